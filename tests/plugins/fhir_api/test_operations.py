"""The IHE ITI Scheduling round trip through the FHIR API: ``$find`` proposes free periods,
``$hold`` holds one, ``$book`` turns the hold into a real booking with the client as channel;
``$book`` with a cancelled Appointment cancels it. Every resource returned validates with
fhir.resources (R4B)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from guahao.core.models import AuditEntry, Booking
from guahao.tenants.context import use_city

from .conftest import make_member, patient, valid


def day_range(fc, days: int = 3) -> list[dict]:
    tz = fc.city.tz
    today = datetime.now(tz).date()
    start = datetime.combine(today, time(0), tzinfo=tz)
    return [{"name": "start", "valueDateTime": start.isoformat()},
            {"name": "end", "valueDateTime": (start + timedelta(days=days + 1)).isoformat()}]


async def bookings(fc) -> list[Booking]:
    with use_city(fc.city):
        async with fc.rt.db.transaction() as s:
            return list((await s.scalars(select(Booking).order_by(Booking.created_at))).all())


async def test_find_hold_book_and_cancel(fhir_city):
    fc = fhir_city
    member, number = await make_member(fc.rt, fc.city)
    token = await fc.token()

    found = await fc.op("find", token, [*day_range(fc), {"name": "specialty", "valueString": "呼吸内科"},
                                        {"name": "practitioner",
                                         "valueReference": {"reference": f"Practitioner/{fc.cat.doctor.id}"}}])
    assert found.status_code == 200, found.text
    assert found.headers["content-type"].startswith("application/fhir+json")
    bundle = valid(found.json())
    assert bundle.type == "searchset" and bundle.total == 6  # 3 days × 2 periods of 王建国
    first = bundle.entry[0].resource
    assert first.status == "proposed" and first.id.startswith("proposed-")
    assert str(first.start).endswith("+08:00") or first.start.utcoffset() == timedelta(hours=8)
    assert first.participant[0].actor.reference == f"Practitioner/{fc.cat.doctor.id}"
    assert first.participant[1].actor.reference == f"Location/{fc.cat.campus.id}"

    held = await fc.op("hold", token, [{"name": "appointment-reference",
                                        "valueReference": {"reference": f"Appointment/{first.id}"}}])
    assert held.status_code == 200, held.text
    hold = valid(held.json()).entry[0].resource
    assert hold.status == "pending" and hold.id.startswith("hold-")

    booked = await fc.op("book", token, [{"name": "appointment-reference",
                                          "valueReference": {"reference": f"Appointment/{hold.id}"}},
                                         patient(number, "张三")])
    assert booked.status_code == 200, booked.text
    appointment = valid(booked.json()).entry[0].resource
    assert appointment.status == "booked" and appointment.slot[0].reference == first.slot[0].reference
    [booking] = await bookings(fc)
    assert booking.id == appointment.id and booking.member_id == member.id
    assert booking.channel == f"fhir_{fc.client_id}" and booking.status == "confirmed"

    # a hold books once: a used hold is refused
    again = await fc.op("book", token, [{"name": "appointment-reference",
                                         "valueReference": {"reference": f"Appointment/{hold.id}"}},
                                        patient(number, "张三")])
    assert again.status_code == 409 and valid(again.json()).issue[0].code == "conflict"
    assert len(await bookings(fc)) == 1

    # the caller's own appointments
    listed = await fc.get("Appointment", token)
    assert [e.resource.id for e in valid(listed.json()).entry] == [booking.id]
    read = await fc.get(f"Appointment/{booking.id}", token)
    assert valid(read.json()).id == booking.id
    by_patient = await fc.get("Appointment", token, **{"patient.identifier": f"urn:oid:2.16.156.10011.1.3|{number}"})
    assert [e.resource.id for e in valid(by_patient.json()).entry] == [booking.id]
    _, stranger = await make_member(fc.rt, fc.city, name="路人")
    nobody = await fc.get("Appointment", token, **{"patient.identifier": f"urn:oid:2.16.156.10011.1.3|{stranger}"})
    assert valid(nobody.json()).total == 0
    assert valid((await fc.get("Appointment", token, identifier=booking.id)).json()).total == 1
    assert (await fc.get("Appointment", token, **{"patient.identifier": f"other|{number}"})).status_code == 422

    cancelled = await fc.op("book", token, [{"name": "appointment-resource", "resource": {
        "resourceType": "Appointment", "id": booking.id, "status": "cancelled",
        "participant": [{"actor": {"reference": f"Practitioner/{fc.cat.doctor.id}"}, "status": "declined"}]}}])
    assert cancelled.status_code == 200, cancelled.text
    assert valid(cancelled.json()).entry[0].resource.status == "cancelled"
    [booking] = await bookings(fc)
    assert booking.status == "cancelled"

    with use_city(fc.city):
        async with fc.rt.db.transaction() as s:
            actions = [a for (a,) in (await s.execute(select(AuditEntry.action).where(
                AuditEntry.actor == f"client:{fc.client_id}").order_by(AuditEntry.id))).all()]
    assert actions[:3] == ["fhir.find", "fhir.hold", "fhir.book"] and actions.count("fhir.book") == 3


async def test_a_held_period_is_not_proposed_to_another_client(fhir_city):
    fc = fhir_city
    from guahao.plugins.channels.fhir_api import clients

    other, other_secret = await clients.add_client(fc.rt, fc.city, "另一个应用")
    mine, theirs = await fc.token(), await fc.token(other.client_id, other_secret)
    params = [*day_range(fc, 1), {"name": "practitioner", "valueReference": {"reference": f"Practitioner/{fc.cat.doctor.id}"}}]
    first = valid((await fc.op("find", mine, params)).json()).entry[0].resource
    for _ in range(2):  # both public units of the period
        r = await fc.op("hold", mine, [{"name": "appointment-reference",
                                        "valueReference": {"reference": f"Appointment/{first.id}"}}])
        assert r.status_code == 200, r.text
    theirs_found = valid((await fc.op("find", theirs, params)).json())
    assert first.id not in [e.resource.id for e in theirs_found.entry]
    r = await fc.op("hold", theirs, [{"name": "appointment-reference",
                                      "valueReference": {"reference": f"Appointment/{first.id}"}}])
    assert r.status_code == 409 and valid(r.json()).issue[0].details.coding[0].code == "slot_held"


async def test_book_refusals_are_operation_outcomes(fhir_city):
    fc = fhir_city
    member, number = await make_member(fc.rt, fc.city)
    token = await fc.token()
    first = valid((await fc.op("find", token, day_range(fc, 1))).json()).entry[0].resource
    ref = {"name": "appointment-reference", "valueReference": {"reference": f"Appointment/{first.id}"}}

    wrong_name = await fc.op("book", token, [ref, patient(number, "李四")])
    assert wrong_name.status_code == 422
    assert valid(wrong_name.json()).issue[0].details.coding[0].code == "patient_not_found"
    missing = await fc.op("find", token, [{"name": "start", "valueDateTime": "2026-01-01T00:00:00+08:00"}])
    assert missing.status_code == 422 and valid(missing.json()).issue[0].code == "invalid"
    not_parameters = await fc.client.post(f"{fc.base}/Appointment/$find", json={"resourceType": "Patient"},
                                          headers={"Authorization": f"Bearer {token}"})
    assert not_parameters.status_code == 422
    unknown = await fc.op("hold", token, [{"name": "appointment-reference",
                                           "valueReference": {"reference": "Appointment/proposed-999999"}}])
    assert unknown.status_code == 404 and valid(unknown.json()).issue[0].severity == "fatal"

    # a booking rule of the city applies: one booking per member and session
    assert (await fc.op("book", token, [ref, patient(number, "张三")])).status_code == 200
    same_session = [e.resource for e in valid((await fc.op("find", token, day_range(fc, 1))).json()).entry
                    if e.resource.participant[0].actor.reference == first.participant[0].actor.reference
                    and e.resource.id != first.id]
    refused = await fc.op("book", token, [{"name": "appointment-reference",
                                           "valueReference": {"reference": f"Appointment/{same_session[0].id}"}},
                                          patient(number, "张三")])
    assert refused.status_code == 409, refused.text
    assert valid(refused.json()).issue[0].code == "conflict"
    assert len(await bookings(fc)) == 1



async def test_a_hold_taken_after_anothers_check_passed_is_refused(fhir_city):
    """Two clients racing for the last unit both pass the check before taking it; the one whose
    hold is counted with the other's after writing it gives it back (409 slot_held)."""
    import pytest

    from guahao.plugins.channels.fhir_api import holds
    from guahao.plugins.channels.fhir_api.errors import FhirError

    fc = fhir_city
    period = fc.cat.periods[fc.cat.sessions[0].id][0]
    first = await holds.take(fc.rt, fc.city, "fcaaaaaaaaaa", period.id, remaining=1)
    with pytest.raises(FhirError) as refused:
        await holds.take(fc.rt, fc.city, "fcbbbbbbbbbb", period.id, remaining=1)
    assert refused.value.status == 409 and refused.value.code == "slot_held"
    assert await holds.held_counts(fc.rt, fc.city, [period.id]) == {period.id: 1}
    assert (await holds.own(fc.rt, fc.city, "fcaaaaaaaaaa", first.hold_id)).status == "held"


def test_every_booking_status_maps_to_an_r4_appointment_status():
    from guahao.core.models import BookingStatus
    from guahao.plugins.channels.fhir_api.resources import APPOINTMENT_STATUS

    r4 = {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "entered-in-error",
          "checked-in", "waitlist"}  # the FHIR R4 AppointmentStatus value set
    assert {s.value for s in BookingStatus} <= set(APPOINTMENT_STATUS)
    assert set(APPOINTMENT_STATUS.values()) <= r4 and APPOINTMENT_STATUS["checked_in"] == "checked-in"
