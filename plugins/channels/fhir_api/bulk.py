"""SMART Scheduling Links: ``GET /fhir/{city}/$bulk-publish`` (the manifest) and its three
files, ``Location``, ``Schedule`` and ``Slot`` as ``application/fhir+ndjson``, each Slot with a
deep link to the patient site's booking page of its period and the city's booking phone.

Built from the city's bookable periods at the time of the request (so they follow every change
of schedules) and cached by clients and proxies for ``bulk_max_age`` seconds. Public, as the
specification intends: they name no patient.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import JSONResponse, Response

from guahao.plugin_api import channels, utcnow

from . import resources
from .errors import FhirError
from .http import Call

KINDS = ("Location", "Schedule", "Slot")
NDJSON = "application/fhir+ndjson"


def _cache(call: Call) -> dict:
    return {"Cache-Control": f"public, max-age={int(call.settings.get('bulk_max_age') or 0)}"}


async def manifest(call: Call):
    now = utcnow()
    return JSONResponse({
        "transactionTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "request": f"{call.base}/$bulk-publish",
        "output": [{"type": kind, "url": f"{call.base}/$bulk-publish/{kind}.ndjson"} for kind in KINDS],
        "error": [],
    }, headers=_cache(call))


async def lines(call: Call, kind: str) -> list[str]:
    now = utcnow()
    found = await channels.open_periods(call.rt, start=now, end=now + timedelta(days=int(call.settings.get("bulk_days") or 14)))
    if kind == "Location":
        d = await channels.directory(call.rt)
        used = {p.place.get("id") for p in found}
        return [resources.location(call.city, c).model_dump_json() for c in d.campuses if c["id"] in used]
    if kind == "Schedule":
        seen: dict[str, str] = {}
        for p in found:
            sid = resources.schedule_id(p.doctor_id, p.place.get("id"))
            seen.setdefault(sid, resources.schedule(p.doctor_id, p.doctor_name, p.place.get("id"),
                                                    p.department_name).model_dump_json())
        return list(seen.values())
    site = (call.settings.get("public_base_url") or str(call.request.base_url)).rstrip("/")
    phone = str(call.settings.get("booking_phone") or "")
    return [resources.slot(call.city, p, deep_link=f"{site}/c/{call.city.slug}/book/{p.period_id}", phone=phone).model_dump_json()
            for p in found]


async def ndjson(call: Call, kind: str):
    if kind not in KINDS:
        raise FhirError(404, "not-found", "not_found", "没有这个文件。/ No such file.")
    body = "".join(line + "\n" for line in await lines(call, kind))
    return Response(body, media_type=NDJSON, headers=_cache(call))
