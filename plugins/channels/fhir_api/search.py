"""``metadata`` and the searches: Practitioner, Location, HealthcareService, Schedule, Slot and
the caller's own Appointments (bookings made through this client), each as a searchset Bundle;
``GET [type]/[id]`` reads one (404 as OperationOutcome)."""

from __future__ import annotations

from datetime import timedelta

from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from sqlalchemy import select

from guahao.plugin_api import DomainError, channels, city_session, utcnow

from . import resources
from .errors import FhirError
from .http import Call, fhir_json
from .models import FhirBooking
from .params import invalid, when

MAX_RESULTS = 500


def capability(call: Call) -> CapabilityStatement:
    search = [{"name": n, "type": t} for n, t in (("_id", "token"),)]
    appointment_search = [{"name": "_id", "type": "token"}, {"name": "identifier", "type": "token"},
                          {"name": "patient", "type": "reference"}, {"name": "date", "type": "date"}]
    ops = [{"name": n, "definition": f"https://profiles.ihe.net/ITI/Scheduling/OperationDefinition/appointment-{n}"}
           for n in ("find", "hold", "book")]
    return CapabilityStatement(
        status="active", date=utcnow().date().isoformat(), kind="instance", fhirVersion="4.0.1",
        format=["json"], implementation={"description": f"{call.city.name} 预约挂号 FHIR 接口", "url": call.base},
        instantiates=["https://profiles.ihe.net/ITI/Scheduling/CapabilityStatement/IHE.Scheduling.server"],
        rest=[{
            "mode": "server",
            "security": {"service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                                  "code": "OAuth"}]}],
                         "extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                                        "extension": [{"url": "token", "valueUri": f"{call.base}/token"}]}]},
            "resource": [
                *({"type": t, "interaction": [{"code": "read"}, {"code": "search-type"}], "searchParam": search}
                  for t in ("Practitioner", "Location", "HealthcareService", "Schedule")),
                {"type": "Slot", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [*search, {"name": "start", "type": "date"}, {"name": "schedule", "type": "reference"},
                                 {"name": "status", "type": "token"}]},
                {"type": "Appointment", "profile": "https://profiles.ihe.net/ITI/Scheduling/StructureDefinition/ihe-sched-appt",
                 "interaction": [{"code": "read"}, {"code": "search-type"}], "searchParam": appointment_search,
                 "operation": ops},
            ],
        }],
    )


async def metadata(call: Call):
    return fhir_json(capability(call))


def _ids(call: Call) -> set[str] | None:
    values = call.request.query_params.getlist("_id")
    return {v for value in values for v in value.split(",")} if values else None


async def _catalogue(call: Call, kind: str) -> list:
    d = await channels.directory(call.rt)
    if kind == "Practitioner":
        return [resources.practitioner(doc) for doc in d.doctors]
    if kind == "Location":
        return [resources.location(call.city, c) for c in d.campuses]
    return [resources.healthcare_service(dept) for dept in d.departments]


def _slot_range(call: Call):
    """``start=geX&start=ltY`` (also ``gt``, ``le``, ``eq`` a day); default: from now for 7 days."""
    now = utcnow()
    low, high = now, None
    for value in call.request.query_params.getlist("start"):
        prefix, text = (value[:2], value[2:]) if value[:2] in ("ge", "gt", "le", "lt", "eq") else ("eq", value)
        moment = when(text, call.city, "start")
        if prefix in ("ge", "gt"):
            low = moment
        elif prefix in ("le", "lt"):
            high = moment
        else:
            low, high = moment, moment + timedelta(days=1)
    days = int(call.settings.get("max_find_days") or 14)
    high = high or low + timedelta(days=7)
    if high <= low or high - low > timedelta(days=days):
        raise invalid("invalid_range",
                      f"start 范围应为正且不超过 {days} 天。/ The start range must be positive and at most {days} days.")
    return low, high


async def periods(call: Call, start, end) -> list:
    return await channels.open_periods(call.rt, start=start, end=end)


async def _slots(call: Call) -> list:
    low, high = _slot_range(call)
    found = await periods(call, low, high)
    schedule = call.request.query_params.get("schedule", "").rpartition("/")[2]
    status = call.request.query_params.get("status", "")
    out = [resources.slot(call.city, p) for p in found]
    return [s for s in out
            if (not schedule or s.schedule.reference == f"Schedule/{schedule}") and (not status or s.status == status)]


async def _schedules(call: Call) -> list:
    days = int(call.settings.get("bulk_days") or 14)
    now = utcnow()
    seen: dict[str, object] = {}
    for p in await periods(call, now, now + timedelta(days=days)):
        sid = resources.schedule_id(p.doctor_id, p.place.get("id"))
        if sid not in seen:
            seen[sid] = resources.schedule(p.doctor_id, p.doctor_name, p.place.get("id"), p.department_name)
    actor = call.request.query_params.get("actor", "")
    items = list(seen.values())
    return [s for s in items if not actor or any(a.reference == actor for a in s.actor)]


async def _patient_member(call: Call) -> int | None:
    """The member a ``patient.identifier=<system>|<ID number>`` names (ITI-118); ``-1`` when
    it names nobody, ``None`` without the parameter."""
    value = call.request.query_params.get("patient.identifier", "")
    if not value:
        return None
    system, _, number = value.rpartition("|")
    if system != resources.ID_NUMBER_SYSTEM:
        raise invalid("invalid_identifier", f"patient.identifier 应为 {resources.ID_NUMBER_SYSTEM}|<身份证号>。/ "
                                            f"patient.identifier must be {resources.ID_NUMBER_SYSTEM}|<ID number>.")
    member = await channels.member_by_id_number(call.rt, number)
    return member.id if member is not None else -1


async def own_appointments(call: Call, ids: set[str] | None = None) -> list:
    assert call.caller is not None
    identifiers = {v.rpartition("|")[2] for v in call.request.query_params.getlist("identifier") if v}
    if identifiers:
        ids = identifiers if ids is None else ids & identifiers
    member_id = await _patient_member(call)
    async with city_session(call.rt, call.city) as s:
        q = select(FhirBooking).where(FhirBooking.client_id == call.caller.client_id)
        if ids is not None:
            q = q.where(FhirBooking.booking_id.in_(list(ids)))
        if member_id is not None:
            q = q.where(FhirBooking.member_id == member_id)
        rows = list((await s.scalars(q.order_by(FhirBooking.id.desc()).limit(MAX_RESULTS))).all())
    out = []
    for row in rows:
        try:
            booking = await channels.get_booking(call.rt, member_id=row.member_id, ref=row.booking_id)
        except DomainError:
            continue
        out.append(resources.booked(call.city, booking, None))
    for value in call.request.query_params.getlist("date"):
        out = [a for a in out if _date_matches(call, value, a.start)]
    return out


def _date_matches(call: Call, value: str, start) -> bool:
    """Whether an Appointment's start passes one ``date`` parameter (``ge``, ``gt``, ``le``,
    ``lt`` a moment, or ``eq`` / no prefix: that day in the city)."""
    prefix, text = (value[:2], value[2:]) if value[:2] in ("ge", "gt", "le", "lt", "eq") else ("eq", value)
    moment = when(text, call.city, "date")
    at = when(start.isoformat() if hasattr(start, "isoformat") else str(start), call.city, "date")
    if prefix == "ge":
        return at >= moment
    if prefix == "gt":
        return at > moment
    if prefix == "le":
        return at <= moment
    if prefix == "lt":
        return at < moment
    return moment <= at < moment + timedelta(days=1)


SEARCHES = {"Practitioner": "system/Slot.read", "Location": "system/Slot.read", "HealthcareService": "system/Slot.read",
            "Schedule": "system/Slot.read", "Slot": "system/Slot.read", "Appointment": "system/Appointment.read"}


async def find(call: Call, kind: str, ids: set[str] | None) -> list:
    if kind in ("Practitioner", "Location", "HealthcareService"):
        found = await _catalogue(call, kind)
    elif kind == "Schedule":
        found = await _schedules(call)
    elif kind == "Slot":
        found = await _slots(call)
    else:
        return await own_appointments(call, ids)
    name = call.request.query_params.get("name", "").strip()
    if name and kind in ("Practitioner", "HealthcareService", "Location"):
        found = [r for r in found if name in (r.name if isinstance(r.name, str) else (r.name[0].text or ""))]
    return [r for r in found if ids is None or r.id in ids]


async def search_type(call: Call, kind: str):
    found = await find(call, kind, _ids(call))
    call.target = (kind, "")
    count = call.request.query_params.get("_count", "")
    limit = min(int(count), MAX_RESULTS) if count.isdigit() and int(count) > 0 else MAX_RESULTS
    result = resources.searchset(found[:limit], call.base)
    result.total = len(found)
    return fhir_json(result)


async def read(call: Call, kind: str, ident: str):
    call.target = (kind, ident)
    if kind == "Slot":
        found = [r for r in await _slots_by_id(call, ident)]
    else:
        found = await find(call, kind, {ident})
    if not found:
        raise FhirError(404, "not-found", "not_found", f"没有 {kind}/{ident[:40]}。/ No {kind}/{ident[:40]}.")
    return fhir_json(found[0])


async def _slots_by_id(call: Call, ident: str) -> list:
    if not ident.isdigit():
        return []
    now = utcnow()
    found = await channels.open_periods(call.rt, start=now, end=now + timedelta(days=366), period_id=int(ident))
    return [resources.slot(call.city, p) for p in found]
