"""FHIR R4 resources ↔ the platform's schedule items, appointments and visit outcomes.

Models come from ``fhir.resources.R4B`` (the FHIR 4.0.1-compatible models of fhir.resources
8.x; the resources used here are the same on the wire in R4 and R4B): what we send is built by
its model, so it is valid before it leaves; what we read is checked by its model and skipped
when malformed.

Schedules (see ``docs/his-fhir.md``): a Schedule whose actors are a Practitioner (the doctor),
optionally a HealthcareService (the department) and a Location (the campus); its Slots of a
doctor on one local day and half-day (before 12:00 ``am``, before 18:00 ``pm``, else ``night``)
make one session, each Slot one period of ``slot-capacity`` units (SMART Scheduling Links
extension; 1 without it). ``busy-unavailable`` Slots are left out; a session whose Slots are all
``busy-unavailable`` is suspended (停诊) with the first Slot comment as the reason.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.slot import Slot
from pydantic import ValidationError

from guahao.plugin_api import ScheduleItem, VisitStatus

log = logging.getLogger("guahao.plugins.fhir")

CAPACITY_EXT = "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity"
CANCEL_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason"
UNAVAILABLE = "busy-unavailable"
DEFAULT_SUSPEND_REASON = "医院通知停诊"
# Appointment.status (R4) → the visit outcome; statuses not listed say nothing yet.
APPOINTMENT_OUTCOMES = {"arrived": "checked_in", "checked-in": "checked_in", "fulfilled": "seen", "noshow": "no_show",
                        "booked": "unknown", "pending": "unknown", "proposed": "unknown", "waitlist": "unknown"}
# Encounter.status (R4) → the visit outcome.
ENCOUNTER_OUTCOMES = {"arrived": "checked_in", "triaged": "checked_in", "in-progress": "checked_in",
                      "onleave": "checked_in", "finished": "seen"}
RANK = {"unknown": 0, "no_show": 1, "checked_in": 2, "seen": 3}  # a later stage of a visit wins


def valid(model, raw: Mapping) -> bool:
    """``raw`` parses as ``model`` (a ``fhir.resources`` class); a bad one is logged."""
    try:
        model.model_validate(raw)
    except (ValidationError, ValueError, TypeError) as exc:
        log.warning("fhir: skipping a malformed %s %s: %s", model.__name__, raw.get("id"), str(exc).splitlines()[0])
        return False
    return True


def instant(value: str) -> datetime:
    """A FHIR instant/dateTime with its offset (``Z`` included) as an aware datetime."""
    at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone offset")
    return at


def stamp(at: datetime, tz) -> str:
    """An instant in the city's time zone to the second, with its offset."""
    return at.astimezone(tz).isoformat(timespec="seconds")


def day_start(day: date, tz) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def identifier(resource: Mapping, system: str) -> str:
    """The value of the resource's identifier of ``system`` (``""`` when it has none)."""
    for ident in resource.get("identifier") or []:
        if system and ident.get("system") == system and ident.get("value"):
            return str(ident["value"])
    return ""


def human_name(resource: Mapping) -> str:
    """A person's name as one string: ``text``, else family and given names run together
    (Chinese names are written without a space)."""
    for name in resource.get("name") or []:
        if isinstance(name, Mapping):
            if name.get("text"):
                return str(name["text"]).strip()
            joined = str(name.get("family") or "") + "".join(str(g) for g in name.get("given") or [])
            if joined.strip():
                return joined.strip()
    return ""


def half_day_of(local: datetime) -> str:
    return "am" if local.hour < 12 else "pm" if local.hour < 18 else "night"


def actor_codes(schedule: Mapping, actors: Mapping[str, Mapping], settings: Mapping) -> dict[str, str]:
    """The doctor, department and campus codes of a Schedule's actors (``""`` when absent)."""
    codes = {"doctor": "", "department": "", "campus": "", "practitioner": ""}
    for actor in schedule.get("actor") or []:
        ref = str(actor.get("reference") or "")
        kind = ref.split("/", 1)[0]
        found = actors.get(ref) or {}
        if kind == "Practitioner":
            codes["practitioner"] = ref
            codes["doctor"] = identifier(found, str(settings.get("doctor_system") or "")) or human_name(found) or str(
                actor.get("display") or "")
        elif kind == "HealthcareService":
            codes["department"] = identifier(found, str(settings.get("department_system") or ""))
        elif kind == "Location":
            codes["campus"] = identifier(found, str(settings.get("campus_system") or "")) or str(
                found.get("name") or actor.get("display") or "")
    return codes


def capacity(slot: Mapping) -> int:
    for ext in slot.get("extension") or []:
        if ext.get("url") == CAPACITY_EXT and isinstance(ext.get("valueInteger"), int):
            return max(int(ext["valueInteger"]), 0)
    return 1


def schedule_items(
    tz, schedules: Iterable[Mapping], actors: Mapping[str, Mapping], slots: Iterable[Mapping], settings: Mapping,
    date_from: date, date_to: date,
) -> list[ScheduleItem]:
    """The sessions the Slots of ``schedules`` make between the two local dates (both included)."""
    pool = str(settings.get("pool") or "public")
    by_schedule = {f"Schedule/{s['id']}": actor_codes(s, actors, settings) for s in schedules if s.get("id")}
    groups: OrderedDict[tuple[str, date, str], dict[str, Any]] = OrderedDict()
    for slot in slots:
        if slot.get("status") == "entered-in-error" or not valid(Slot, slot):
            continue
        ref = str((slot.get("schedule") or {}).get("reference") or "")
        ref = "Schedule/" + ref.rsplit("Schedule/", 1)[-1] if "Schedule/" in ref else ref
        codes = by_schedule.get(ref)
        if codes is None or not codes["doctor"]:
            continue
        try:
            start, end = instant(slot["start"]).astimezone(tz), instant(slot["end"]).astimezone(tz)
        except (KeyError, ValueError):
            continue
        if not date_from <= start.date() <= date_to or end <= start:
            continue
        key = (codes["doctor"], start.date(), half_day_of(start))
        group = groups.setdefault(key, {"codes": codes, "periods": OrderedDict(), "unavailable": [], "schedule": ref})
        if slot.get("status") == UNAVAILABLE:
            group["unavailable"].append(str(slot.get("comment") or ""))
            continue
        span = (f"{start:%H:%M}", f"{end:%H:%M}")
        group["periods"][span] = group["periods"].get(span, 0) + capacity(slot)
    items = []
    for (doctor, day, half), group in groups.items():
        codes = group["codes"]
        reference = f"{group['schedule']}/{day.isoformat()}/{half}"
        common = dict(doctor_code=doctor, date=day, half_day=half, department_code=codes["department"],
                      campus_code=codes["campus"], reference=reference)
        if not group["periods"]:
            reason = next((c for c in group["unavailable"] if c), "") or DEFAULT_SUSPEND_REASON
            items.append(ScheduleItem(**common, status="suspended", reason=reason))
            continue
        periods = [{"start": a, "end": b, "pools": {pool: units}} for (a, b), units in sorted(group["periods"].items())]
        items.append(ScheduleItem(**common, periods=periods))
    return items


# --- appointments ---------------------------------------------------------------------------


def booking_window(booking: Mapping, tz) -> tuple[datetime, datetime]:
    """The booked period's start and end (aware, city time)."""
    day = date.fromisoformat(str(booking["date"]))
    sh, sm = (int(x) for x in str(booking["start"]).split(":")[:2])
    eh, em = (int(x) for x in str(booking["end"]).split(":")[:2])
    base = day_start(day, tz)
    return base + timedelta(hours=sh, minutes=sm), base + timedelta(hours=eh, minutes=em)


def patient_reference(booking: Mapping, settings: Mapping, patient_id: str = "") -> dict:
    """The patient as a Reference: ``Patient/<id>`` when the server knows them, always with the
    resident ID number (or its masked form) as identifier and the name as display."""
    from .meta import ID_NUMBER_SYSTEM, SID

    patient = booking.get("patient") or {}
    full = str(settings.get("patient_identity") or "full_id") == "full_id" and patient.get("id_number")
    ident = ({"system": ID_NUMBER_SYSTEM, "value": str(patient["id_number"])} if full
             else {"system": f"{SID}/id-masked", "value": str(patient.get("id_number_masked") or "")})
    ref: dict[str, Any] = {"type": "Patient", "identifier": ident, "display": str(patient.get("name") or "")}
    if patient_id:
        ref["reference"] = patient_id
    return ref


def new_appointment(booking: Mapping, tz, settings: Mapping, *, slot: str, practitioner: str,
                    patient_id: str = "") -> Appointment:
    """The Appointment of a booking in ``slot`` (validated by its model)."""
    start, end = booking_window(booking, tz)
    created = booking.get("created_at")
    participants = [
        {"actor": patient_reference(booking, settings, patient_id), "required": "required", "status": "accepted"},
        {"actor": {"reference": practitioner, "display": str(booking.get("doctor_name") or "")},
         "required": "required", "status": "accepted"},
    ]
    body: dict[str, Any] = {
        "resourceType": "Appointment",
        "identifier": [{"system": str(settings.get("booking_system")), "value": str(booking["id"])}],
        "status": "booked",
        "start": stamp(start, tz), "end": stamp(end, tz), "slot": [{"reference": slot}],
        "comment": f"预约平台预约号 {booking['id']}，渠道 {booking.get('channel') or '-'}",
        "participant": participants,
    }
    if created:
        body["created"] = stamp(instant(created), tz)
    if booking.get("department_name"):
        body["serviceType"] = [{"text": str(booking["department_name"])}]
    return Appointment.model_validate(body)


def moved(appointment: Mapping, booking: Mapping, tz, *, slot: str, practitioner: str) -> dict:
    """The Appointment moved to the booking's (new) period and Slot."""
    start, end = booking_window(booking, tz)
    body = {k: v for k, v in appointment.items() if k != "cancelationReason"}
    body.update(start=stamp(start, tz), end=stamp(end, tz), slot=[{"reference": slot}], status="booked")
    people = [p for p in body.get("participant") or [] if not str((p.get("actor") or {}).get("reference") or "")
              .startswith("Practitioner/")]
    people.append({"actor": {"reference": practitioner, "display": str(booking.get("doctor_name") or "")},
                   "required": "required", "status": "accepted"})
    body["participant"] = people
    return Appointment.model_validate(body).model_dump(mode="json", exclude_none=True)


def cancelled(appointment: Mapping, reason: str) -> dict:
    """The Appointment with ``status=cancelled`` and the reason (code ``pat``: the patient's side)."""
    body = dict(appointment)
    body["status"] = "cancelled"
    body["cancelationReason"] = {"coding": [{"system": CANCEL_REASON_SYSTEM, "code": "pat"}], "text": reason}
    return Appointment.model_validate(body).model_dump(mode="json", exclude_none=True)


def visits(appointments: Iterable[Mapping], encounters: Iterable[Mapping], booking_system: str) -> list[VisitStatus]:
    """Visit outcomes of our bookings: the Appointment's status, raised by an Encounter that
    points at it (``Encounter.appointment``); the later stage of the visit wins."""
    found: dict[str, VisitStatus] = {}
    ids: dict[str, str] = {}
    for appt in appointments:
        booking_id = identifier(appt, booking_system)
        status = APPOINTMENT_OUTCOMES.get(str(appt.get("status") or ""))
        if not booking_id or status is None:
            continue
        ids[f"Appointment/{appt.get('id')}"] = booking_id
        found[booking_id] = VisitStatus(booking_id, status, reference=f"Appointment/{appt.get('id')}")
    for enc in encounters:
        seen = ENCOUNTER_OUTCOMES.get(str(enc.get("status") or ""))
        if seen is None:
            continue
        for ref in enc.get("appointment") or []:
            linked = ids.get(str(ref.get("reference") or ""))
            if linked is None or RANK[seen] <= RANK[found[linked].outcome]:
                continue
            started = str((enc.get("period") or {}).get("start") or "")
            try:
                at = instant(started).astimezone(UTC) if started else None
            except ValueError:
                at = None
            found[linked] = VisitStatus(linked, seen, at=at, reference=f"Encounter/{enc.get('id')}")
    return list(found.values())

