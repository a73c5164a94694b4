"""The city's catalogue, periods and bookings as FHIR R4 resources (``fhir.resources.R4B``,
FHIR 4.0.1-compatible models: every resource is built, and so validated, by its model).

Ids: ``Practitioner/<doctor id>``, ``Location/<campus id>``, ``HealthcareService/<department
id>``, ``Schedule/<doctor id>-<campus id>``, ``Slot/<period id>``; an Appointment is
``proposed-<period id>`` (``$find``), ``hold-<hold id>`` (``$hold``) or the booking's reference
(``$book``). Times are in the city's time zone with their offset.
"""

from __future__ import annotations

from datetime import date, datetime, time

from fhir.resources.R4B.appointment import Appointment
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.healthcareservice import HealthcareService
from fhir.resources.R4B.location import Location
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.schedule import Schedule
from fhir.resources.R4B.slot import Slot

SMART = "http://fhir-registry.smarthealthit.org/StructureDefinition"
CAPACITY_EXT = f"{SMART}/slot-capacity"
DEEP_LINK_EXT = f"{SMART}/booking-deep-link"
PHONE_EXT = f"{SMART}/booking-phone"
ID_SYSTEM = "https://guahao.org/fhir/sid"
ID_NUMBER_SYSTEM = "urn:oid:2.16.156.10011.1.3"  # 居民身份证号: how a Patient names a member
TITLES = {"chief": "主任医师", "associate_chief": "副主任医师", "attending": "主治医师", "resident": "住院医师"}
# A booking's status → the Appointment's.
APPOINTMENT_STATUS = {"pending_payment": "booked", "confirmed": "booked", "offered": "pending",
                      "checked_in": "checked-in", "seen": "fulfilled", "no_show": "noshow",
                      "cancelled": "cancelled", "expired": "cancelled"}


def local(city, value: datetime) -> str:
    """``value`` in the city's time zone, to the second, with its offset."""
    return value.astimezone(city.tz).isoformat(timespec="seconds")


def schedule_id(doctor_id: int, campus_id: int | None) -> str:
    return f"{doctor_id}-{campus_id or 0}"


def practitioner(doc: dict) -> Practitioner:
    return Practitioner(
        id=str(doc["id"]), active=True,
        identifier=[{"system": f"{ID_SYSTEM}/doctor", "value": str(doc["id"])}],
        name=[{"text": doc["name"]}],
        qualification=[{"code": {"text": TITLES.get(doc["title"], doc["title"])}}] if doc.get("title") else None,
    )


def location(city, campus: dict) -> Location:
    hospital = campus["hospital_name"]
    name = f"{hospital} {campus['name']}".strip() if campus["name"] else hospital
    return Location(
        id=str(campus["id"]), status="active", name=name,
        identifier=[{"system": f"{ID_SYSTEM}/campus", "value": str(campus["id"])},
                    {"system": f"{ID_SYSTEM}/hospital", "value": campus["hospital_code"]}],
        telecom=[{"system": "phone", "value": campus["phone"]}] if campus.get("phone") else None,
        address={"text": campus["address"] or hospital, "line": [campus["address"]] if campus["address"] else None,
                 "city": city.name, "country": "CN"},
    )


def healthcare_service(dept: dict) -> HealthcareService:
    return HealthcareService(
        id=str(dept["id"]), active=True, name=dept["name"],
        identifier=[{"system": f"{ID_SYSTEM}/department", "value": dept["code"]}],
        specialty=[{"coding": [{"system": f"{ID_SYSTEM}/department-code", "code": dept["code"],
                                "display": dept["name"]}], "text": dept["name"]}],
        comment=dept["hospital_name"],
    )


def schedule(doctor_id: int, doctor_name: str, campus_id: int | None, department: str) -> Schedule:
    actors = [{"reference": f"Practitioner/{doctor_id}", "display": doctor_name}]
    if campus_id:
        actors.append({"reference": f"Location/{campus_id}"})
    return Schedule(id=schedule_id(doctor_id, campus_id), active=True, actor=actors,
                    serviceType=[{"text": department}])


def slot(city, period, *, deep_link: str | None = None, phone: str = "") -> Slot:
    """A period as a Slot: free while public units are left, busy otherwise."""
    extension = [{"url": CAPACITY_EXT, "valueInteger": period.remaining}]
    if deep_link:
        extension.append({"url": DEEP_LINK_EXT, "valueUrl": deep_link})
    if phone:
        extension.append({"url": PHONE_EXT, "valueString": phone})
    return Slot(
        id=str(period.period_id), schedule={"reference": f"Schedule/{schedule_id(period.doctor_id, period.place.get('id'))}"},
        status="free" if period.remaining > 0 else "busy",
        start=local(city, period.starts_at), end=local(city, period.ends_at), extension=extension,
        serviceType=[{"text": period.department_name}],
    )


def _participants(doctor_id: int, doctor_name: str, place: dict, patient: str | None = None) -> list[dict]:
    people = [{"actor": {"reference": f"Practitioner/{doctor_id}", "display": doctor_name},
               "required": "required", "status": "accepted"}]
    if place.get("id"):
        people.append({"actor": {"reference": f"Location/{place['id']}", "display": place.get("name") or None},
                       "required": "required", "status": "accepted"})
    if patient is not None:
        people.append({"actor": {"display": patient}, "required": "required", "status": "accepted"})
    return people


def proposed(city, period, *, status: str = "proposed", appointment_id: str | None = None) -> Appointment:
    """An open period as an Appointment ``$find`` proposes (or ``$hold`` holds: ``pending``)."""
    return Appointment(
        id=appointment_id or f"proposed-{period.period_id}", status=status,
        serviceType=[{"text": period.department_name}],
        specialty=[{"text": period.department_name}],
        description=f"{period.hospital_name} {period.department_name} {period.doctor_name}",
        start=local(city, period.starts_at), end=local(city, period.ends_at),
        slot=[{"reference": f"Slot/{period.period_id}"}],
        participant=_participants(period.doctor_id, period.doctor_name, period.place),
    )


def booked(city, booking: dict, patient_name: str | None) -> Appointment:
    """A booking (as the platform's API shows it) as an Appointment."""
    day = date.fromisoformat(str(booking["date"]))
    start = datetime.combine(day, time.fromisoformat(booking["start"]), tzinfo=city.tz)
    end = datetime.combine(day, time.fromisoformat(booking["end"]), tzinfo=city.tz)
    status = APPOINTMENT_STATUS.get(booking["status"], "booked")
    return Appointment(
        id=booking["id"], status=status,
        identifier=[{"system": f"{ID_SYSTEM}/booking", "value": booking["id"]}],
        cancelationReason={"text": booking["cancel_reason"]} if status == "cancelled" and booking.get("cancel_reason") else None,
        serviceType=[{"text": booking["department_name"]}],
        specialty=[{"text": booking["department_name"]}],
        description=f"{booking['hospital_name']} {booking['department_name']} {booking['doctor_name']}",
        start=local(city, start), end=local(city, end), created=booking["created_at"],
        slot=[{"reference": f"Slot/{booking['period_id']}"}],
        participant=_participants(booking["doctor_id"], booking["doctor_name"], booking.get("campus") or {}, patient_name),
    )


def searchset(resources: list, base: str) -> Bundle:
    return Bundle(type="searchset", total=len(resources), entry=[
        {"fullUrl": f"{base}/{r.get_resource_type()}/{r.id}", "resource": r, "search": {"mode": "match"}}
        for r in resources
    ])
