"""Pushes to the hospital's FHIR server: a booking becomes one Appointment in its Slot (a retried
push creates no second one), a 4xx OperationOutcome fails the delivery with the server's text,
a 5xx or a server that is down is retried, a cancellation and a move update the Appointment."""

from __future__ import annotations

from datetime import timedelta

from guahao.core.booking.views import booking_view
from guahao.core.jobs.context import BACKOFF_MAX_SECONDS
from guahao.core.jobs.his_push import _his_details
from guahao.core.models import Booking, Hospital
from guahao.plugins.his.fhir import FhirHis
from guahao.plugins.his.fhir.meta import ID_NUMBER_SYSTEM, SID
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.core.booking.helpers import run

from .conftest import stamp


async def _view(fhir, booking_id: str) -> dict:
    with use_city(fhir.city):
        async with fhir.rt.db.transaction() as s:
            b = await s.get(Booking, booking_id)
            h = await s.get(Hospital, b.hospital_id)
            view = (await booking_view(s, b)).model_dump(mode="json")
            view.update(await _his_details(s, b, h))
    return view


async def test_a_booking_becomes_one_appointment_in_its_slot(fhir):
    b = await fhir.book(name="李四")
    number = (await _view(fhir, b.id))["patient"]["id_number"]
    known = fhir.server.add({"resourceType": "Patient", "name": [{"text": "李四"}],
                             "identifier": [{"system": ID_NUMBER_SYSTEM, "value": number}]})
    await fhir.drain()
    [appt] = fhir.appointments(b.id)
    [push] = await fhir.pushes(b.id)
    assert push["action"] == "book" and push["adapter"] == "fhir" and push["reference"] == f"Appointment/{appt['id']}"
    assert appt["status"] == "booked"
    assert appt["identifier"] == [{"system": f"{SID}/booking", "value": b.id}]
    period = fhir.cat.periods[fhir.cat.sessions[0].id][0]
    assert appt["start"] == stamp(fhir.city, period.starts_at) and appt["end"] == stamp(fhir.city, period.ends_at)
    [slot_ref] = [s["reference"] for s in appt["slot"]]
    slot = fhir.server.get(slot_ref)
    assert slot["start"] == appt["start"] and slot["status"] == "free"  # capacity 2, one taken
    patient = next(p["actor"] for p in appt["participant"] if p["actor"].get("type") == "Patient")
    assert patient["identifier"] == {"system": ID_NUMBER_SYSTEM, "value": number} and number.startswith("110101")
    assert patient["display"] == "李四" and patient["reference"] == f"Patient/{known['id']}"
    [lookup] = fhir.server.requests("POST", "/Patient/_search")  # the ID number is not put in a URL
    assert not any(number in str(r.query) for r in fhir.server.seen)
    doctor = next(p["actor"] for p in appt["participant"] if p["actor"].get("reference", "").startswith("Practitioner/"))
    assert fhir.server.get(doctor["reference"])["identifier"][0]["value"] == f"D{fhir.cat.doctor.id}"
    [post] = fhir.server.requests("POST", "/Appointment")
    assert post.headers["if-none-exist"] == f"identifier={SID}/booking|{b.id}".replace(":", "%3A").replace(
        "/", "%2F").replace("|", "%7C")
    assert post.headers["content-type"] == "application/fhir+json"

    await fhir.drain()  # nothing is pushed twice
    assert len(fhir.server.requests("POST", "/Appointment")) == 1 and len(await fhir.pushes(b.id)) == 1


async def test_a_push_sent_again_creates_no_second_appointment(fhir):
    """The answer to a create can be lost after the server stored it; the outbox then sends the
    same push again, and the conditional create finds the first Appointment."""
    b = await fhir.book()
    view = await _view(fhir, b.id)
    adapter = FhirHis()
    settings = {"base_url": fhir.url, "timeout": 3}
    first = await adapter.push_booking(fhir.city, view, settings, {})
    second = await adapter.push_booking(fhir.city, view, settings, {})
    assert first.reference == second.reference and len(fhir.appointments(b.id)) == 1
    assert len(fhir.server.requests("POST", "/Appointment")) == 2


async def test_a_refused_push_fails_at_once_with_the_servers_text(fhir):
    fhir.server.fail_next(422, "患者身份证号与姓名不符", method="POST", resource="Appointment")
    b = await fhir.book()
    await fhir.drain()
    [row] = await fhir.outbox(booking_id=b.id)
    assert row.status == "failed" and row.attempts == 1
    assert "患者身份证号与姓名不符" in row.last_error and "HisRejected" in row.last_error and "422" in row.last_error
    with frozen(utcnow() + timedelta(seconds=BACKOFF_MAX_SECONDS)):
        await fhir.drain()
    assert fhir.appointments(b.id) == [] and len(fhir.server.requests("POST", "/Appointment")) == 1


async def test_a_server_error_is_retried_then_delivered(fhir):
    fhir.server.fail_next(503, "维护中", method="POST", resource="Appointment")
    b = await fhir.book()
    await fhir.drain()
    [row] = await fhir.outbox(booking_id=b.id)
    assert row.status == "pending" and row.attempts == 1 and "503" in row.last_error and "维护中" in row.last_error
    assert "FhirUnavailable" in row.last_error and await fhir.pushes(b.id) == []
    with frozen(utcnow() + timedelta(seconds=BACKOFF_MAX_SECONDS)):
        await fhir.drain()
    assert (await fhir.outbox(booking_id=b.id))[0].status == "done" and len(fhir.appointments(b.id)) == 1


async def test_a_server_that_is_down_keeps_the_push_waiting(fhir, live):
    b = await fhir.book()
    live.stop()
    await fhir.drain()
    [row] = await fhir.outbox(booking_id=b.id)
    assert row.status == "pending" and "connection failed" in row.last_error and "FhirUnavailable" in row.last_error


async def test_a_cancellation_cancels_the_appointment_and_frees_its_slot(fhir):
    from guahao.core.booking import engine

    b = await fhir.book()
    b2 = await fhir.book(name="王五")  # the Slot (capacity 2) is full: busy
    await fhir.drain()
    [appt] = fhir.appointments(b.id)
    slot_ref = appt["slot"][0]["reference"]
    assert fhir.server.get(slot_ref)["status"] == "busy" and fhir.appointments(b2.id)

    await run(fhir.rt, fhir.city, engine.cancel, b.id, member_id=b.member_id)
    await fhir.drain()
    [appt] = fhir.appointments(b.id)
    assert appt["status"] == "cancelled" and appt["cancelationReason"]["text"]
    assert appt["cancelationReason"]["coding"][0]["code"] == "pat" and appt["meta"]["versionId"] == "2"
    assert fhir.server.get(slot_ref)["status"] == "free"
    [put] = fhir.server.requests("PUT", "/Appointment")
    assert put.headers["if-match"] == 'W/"1"'
    assert [p["action"] for p in await fhir.pushes(b.id)] == ["book", "cancel"]


async def test_a_move_puts_the_appointment_in_the_new_slot(fhir):
    b = await fhir.book()
    await fhir.drain()
    [before] = fhir.appointments(b.id)
    moved = await _view(fhir, b.id)
    later = fhir.cat.periods[fhir.cat.sessions[0].id][1]
    moved.update(period_id=later.id, start=f"{later.start:%H:%M}", end=f"{later.end:%H:%M}")
    ack = await FhirHis().push_move(fhir.city, moved, await _view(fhir, b.id), {"base_url": fhir.url}, {})
    [after] = fhir.appointments(b.id)
    assert ack.reference == f"Appointment/{before['id']}" and after["start"] == stamp(fhir.city, later.starts_at)
    assert after["slot"] != before["slot"] and fhir.server.get(after["slot"][0]["reference"])["start"] == after["start"]
    assert len(fhir.server.all("Appointment")) == 1


async def test_a_burst_while_the_server_fails_is_delivered_once_each_when_it_is_back(fhir):
    from guahao.core.booking import engine
    from tests.core.plugins.probes import make_member

    fhir.server.fail_next(503, "系统升级中", times=10_000)
    periods = [p for s in fhir.cat.sessions for p in fhir.cat.periods[s.id]]
    bookings = []
    for i in range(20):
        member = await make_member(fhir.rt, fhir.city, name=f"患者{i}")
        bookings.append(await run(fhir.rt, fhir.city, engine.reserve, member_id=member.id,
                                  period_id=periods[i % len(periods)].id, channel="web"))
    await fhir.drain()
    rows = await fhir.outbox()
    assert len(rows) == 20 and {r.status for r in rows} == {"pending"} and fhir.server.all("Appointment") == []

    fhir.server.failures.clear()
    with frozen(utcnow() + timedelta(seconds=BACKOFF_MAX_SECONDS)):
        await fhir.drain()
    assert {r.status for r in await fhir.outbox()} == {"done"}
    assert sorted(len(fhir.appointments(b.id)) for b in bookings) == [1] * 20
    assert len(fhir.server.requests("POST", "/Appointment")) == 20
