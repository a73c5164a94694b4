"""SMART Scheduling Links: the ``$bulk-publish`` manifest and its Location, Schedule and Slot
files (``application/fhir+ndjson``, ``Cache-Control: max-age``), every line a resource that
validates, every Slot with its booking deep link and phone; a booked-out period is busy."""

from __future__ import annotations

import json

from sqlalchemy import update

from guahao.core.models import SlotPool
from guahao.tenants.context import use_city

from .conftest import valid


async def test_bulk_publish_files_validate_line_by_line(fhir_city):
    fc = fhir_city
    with use_city(fc.city):  # the first period of 王建国 is booked out
        first = fc.cat.periods[fc.cat.sessions[0].id][0]
        async with fc.rt.db.transaction() as s:
            await s.execute(update(SlotPool).where(SlotPool.period_id == first.id).values(booked=SlotPool.capacity))

    r = await fc.client.get(f"{fc.base}/$bulk-publish")  # public: no token
    assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=300"
    manifest = r.json()
    assert manifest["transactionTime"].endswith("Z") and manifest["error"] == []
    assert manifest["request"] == f"http://testserver{fc.base}/$bulk-publish"
    assert [o["type"] for o in manifest["output"]] == ["Location", "Schedule", "Slot"]

    files = {}
    for output in manifest["output"]:
        f = await fc.client.get(output["url"].removeprefix("http://testserver"))
        assert f.status_code == 200 and f.headers["content-type"].startswith("application/fhir+ndjson")
        assert "max-age=300" in f.headers["cache-control"]
        lines = f.text.splitlines()
        assert lines and f.text.endswith("\n")
        files[output["type"]] = [valid(json.loads(line)) for line in lines]
        assert {res.get_resource_type() for res in files[output["type"]]} == {output["type"]}

    [location] = files["Location"]
    assert location.id == str(fc.cat.campus.id)
    assert {s.id for s in files["Schedule"]} == {f"{d.id}-{fc.cat.campus.id}" for d in (fc.cat.doctor, fc.cat.doctor2)}
    slots = {s.id: s for s in files["Slot"]}
    assert len(slots) == 12 and slots[str(first.id)].status == "busy"
    free = next(s for s in slots.values() if s.status == "free")
    ext = {e.url.rsplit("/", 1)[1]: e for e in free.extension}
    assert ext["booking-deep-link"].valueUrl == f"http://testserver/c/{fc.city.slug}/book/{free.id}"
    assert ext["booking-phone"].valueString == "12320" and ext["slot-capacity"].valueInteger == 2
    assert free.schedule.reference.removeprefix("Schedule/") in {s.id for s in files["Schedule"]}
    assert (await fc.client.get(f"{fc.base}/$bulk-publish/Patient.ndjson")).status_code == 404
