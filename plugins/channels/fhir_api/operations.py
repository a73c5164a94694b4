"""The IHE ITI Scheduling operations on Appointment: ``$find`` (ITI-115), ``$hold`` (ITI-116)
and ``$book`` (ITI-117: create from a proposed or held appointment, or cancel).

The patient of ``$book`` is a registered real-name member of the city, named by a ``Patient``
in ``patient-resource`` with an identifier of system :data:`ID_NUMBER_SYSTEM` (the resident ID
number, 身份证号) and the member's real name: both must match (the ID number is found through
the members' keyed hash, never stored here). Bookings go through the platform's booking engine
with ``fhir_<client id>`` as channel, so every booking rule applies; the client's daily quota
counts its successful bookings.
"""

from __future__ import annotations

from datetime import timedelta

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError
from sqlalchemy import select

from guahao.plugin_api import channels, city_session, utcnow

from . import holds, resources, throttle
from .errors import FhirError
from .http import Call, fhir_json
from .models import FhirBooking
from .params import datetime_param, integer, invalid, read_parameters, references, strings

ID_NUMBER_SYSTEM = resources.ID_NUMBER_SYSTEM  # 居民身份证号 (China resident identity card number)


def channel_of(client_id: str) -> str:
    return f"fhir_{client_id}"[:20]


def bundle(items: list, base: str) -> Bundle:
    return resources.searchset(items, base)


async def find(call: Call):
    params = await read_parameters(call.request)
    start = datetime_param(params, "start", call.city)
    end = datetime_param(params, "end", call.city)
    assert start is not None and end is not None
    days = int(call.settings.get("max_find_days") or 14)
    if end <= start or end - start > timedelta(days=days):
        raise invalid("invalid_range", f"end 应晚于 start，且范围不超过 {days} 天。/ end must follow start, within {days} days.")
    count = integer(params, "_count", 100)
    specialties = strings(params, "specialty")
    practitioners = set(references(params, "practitioner", "Practitioner"))
    locations = set(references(params, "location-reference", "Location"))
    departments: set[int] | None = None
    if specialties:
        d = await channels.directory(call.rt)
        departments = {dept["id"] for dept in d.departments
                       if {str(dept["id"]), dept["code"], dept["name"]} & set(specialties)}
    found = await channels.open_periods(call.rt, start=start, end=end)
    found = [p for p in found if p.remaining > 0
             and (departments is None or p.department_id in departments)
             and (not practitioners or str(p.doctor_id) in practitioners)
             and (not locations or str(p.place.get("id")) in locations)]
    held = await holds.held_counts(call.rt, call.city, (p.period_id for p in found))
    found = [p for p in found if p.remaining > held.get(p.period_id, 0)]
    call.target = ("Appointment", "$find")
    result = bundle([resources.proposed(call.city, p) for p in found[:count]], call.base)
    result.total = len(found)
    return fhir_json(result)


def _appointment_id(params: dict) -> str:
    ref = ""
    items = params.get("appointment-reference") or []
    if items:
        ref = str((items[0].get("valueReference") or {}).get("reference") or "")
    elif params.get("appointment-resource"):
        ref = "Appointment/" + str((params["appointment-resource"][0].get("resource") or {}).get("id") or "")
    kind, _, ident = ref.rpartition("/")
    if kind.split("/")[-1] != "Appointment" or not ident:
        raise invalid("missing_appointment", "需要 appointment-reference（Appointment/<id>）。/ "
                                             "appointment-reference (Appointment/<id>) is required.")
    return ident


async def _open_period(call: Call, period_id: int, *, except_client: str | None):
    now = utcnow()
    found = await channels.open_periods(call.rt, start=now, end=now + timedelta(days=366), period_id=period_id)
    if not found or found[0].remaining <= 0:
        raise FhirError(404, "not-found", "slot_unavailable", "该时段已不可预约。/ The slot is no longer available.",
                        severity="fatal")
    period = found[0]
    held = (await holds.held_counts(call.rt, call.city, [period_id], except_client=except_client)).get(period_id, 0)
    if period.remaining <= held:
        raise FhirError(409, "conflict", "slot_held", "该时段已被其他应用锁定。/ The slot is held by another client.")
    return period


def _proposed_period(ident: str) -> int:
    if ident.startswith("proposed-") and ident[9:].isdigit():
        return int(ident[9:])
    raise FhirError(404, "not-found", "not_found", f"没有 Appointment/{ident[:40]}。/ No such appointment.",
                    severity="fatal")


async def hold(call: Call):
    assert call.caller is not None
    params = await read_parameters(call.request)
    period_id = _proposed_period(_appointment_id(params))
    period = await _open_period(call, period_id, except_client=call.caller.client_id)
    taken = await holds.take(call.rt, call.city, call.caller.client_id, period_id, period.remaining)
    call.target = ("Appointment", f"hold-{taken.hold_id}")
    return fhir_json(bundle([resources.proposed(call.city, period, status="pending",
                                                appointment_id=f"hold-{taken.hold_id}")], call.base))


def _patient(params: dict) -> tuple[str, str]:
    """The ID number and name of the ``patient-resource``."""
    items = params.get("patient-resource") or []
    if not items:
        raise invalid("missing_patient", "需要 patient-resource（含身份证号与姓名的 Patient）。/ "
                                         "patient-resource (a Patient with ID number and name) is required.")
    data = items[0].get("resource") or {}
    try:
        patient = Patient.model_validate(data)
    except (ValueError, ValidationError):
        raise invalid("invalid_patient",
                      "patient-resource 不是有效的 Patient。/ patient-resource is not a valid Patient.") from None
    number = next((i.value for i in patient.identifier or [] if i.system == ID_NUMBER_SYSTEM and i.value), "")
    name = ""
    for n in patient.name or []:
        name = n.text or ((n.family or "") + "".join(n.given or []))
        if name:
            break
    if not number or not name:
        raise invalid("missing_patient", f"Patient 需要系统为 {ID_NUMBER_SYSTEM} 的身份证号和姓名。/ "
                                         f"The Patient needs an identifier of system {ID_NUMBER_SYSTEM} and a name.")
    return number, name


async def book(call: Call):
    assert call.caller is not None
    params = await read_parameters(call.request)
    resource = ((params.get("appointment-resource") or [{}])[0].get("resource") or {})
    if resource.get("status") == "cancelled":
        return await _cancel(call, str(resource.get("id") or ""), params)
    ident = _appointment_id(params)
    number, name = _patient(params)
    member = await channels.member_by_id_number(call.rt, number)
    if member is None or not channels.name_matches(member, name):
        raise FhirError(422, "not-found", "patient_not_found",
                        "没有身份证号与姓名相符的实名注册会员。/ No registered member with this ID number and name.")
    hold_id = ""
    if ident.startswith("hold-"):
        hold_id = ident[5:]
        taken = await holds.own(call.rt, call.city, call.caller.client_id, hold_id)
        period_id = taken.period_id
    else:
        period_id = _proposed_period(ident)
        await _open_period(call, period_id, except_client=call.caller.client_id)
    await throttle.check_quota(call.rt, call.city, call.caller)
    booking = await channels.book_period(
        call.rt, member_id=member.id, period_id=period_id, channel=channel_of(call.caller.client_id),
        idempotency_key=f"fhir-hold-{hold_id}" if hold_id else None,
    )
    async with city_session(call.rt, call.city) as s:
        known = await s.scalar(select(FhirBooking.id).where(FhirBooking.booking_id == booking["id"]))
        if known is None:
            s.add(FhirBooking(client_id=call.caller.client_id, booking_id=booking["id"], member_id=member.id))
    if hold_id:
        await holds.mark(call.rt, call.city, hold_id, "booked")
    call.target = ("Booking", booking["id"])
    return fhir_json(bundle([resources.booked(call.city, booking, member.name)], call.base))


async def _cancel(call: Call, ref: str, params: dict):
    assert call.caller is not None
    async with city_session(call.rt, call.city) as s:
        row = await s.scalar(select(FhirBooking).where(FhirBooking.booking_id == ref[:24],
                                                       FhirBooking.client_id == call.caller.client_id))
    if row is None:
        raise FhirError(404, "not-found", "not_found", "没有本应用所做的这个预约。/ No such appointment made by this client.",
                        severity="fatal")
    comment = ((params.get("comment") or [{}])[0].get("valueString") or "").strip()
    booking = await channels.cancel_booking(call.rt, member_id=row.member_id, ref=row.booking_id,
                                            reason=comment[:200] or f"由第三方应用 {call.caller.name} 取消")
    call.target = ("Booking", row.booking_id)
    return fhir_json(bundle([resources.booked(call.city, booking, None)], call.base))
