"""Visit outcomes from the hospital's FHIR server: an Appointment marked ``noshow`` makes the
booking a no-show with its credit consequences; an Encounter of the Appointment (or the status
``arrived``) checks the booking in; the sweep is the core's own."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select

from guahao.core.his.sync import sweep_visits
from guahao.core.models import Booking, CreditEvent
from guahao.plugins.his.fhir import FhirHis
from guahao.plugins.his.fhir.meta import SID
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city

from .conftest import stamp


async def _encounter(fhir, appointment_id: str, status: str, at) -> dict:
    return fhir.server.add({
        "resourceType": "Encounter", "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "appointment": [{"reference": f"Appointment/{appointment_id}"}],
        "period": {"start": stamp(fhir.city, at)},
    })


async def test_noshow_and_encounters_reach_the_bookings(fhir):
    session = fhir.cat.sessions[0]
    _, second = fhir.cat.periods[session.id]
    absent = await fhir.book(0, 0, name="孙三")
    came = await fhir.book(0, 1, name="周四")
    arrived = await fhir.book(0, 1, name="吴五")
    await fhir.drain()
    [gone_appt], [came_appt], [arrived_appt] = (fhir.appointments(b.id) for b in (absent, came, arrived))
    fhir.server.set_status(f"Appointment/{gone_appt['id']}", "noshow")
    await _encounter(fhir, came_appt["id"], "finished", second.starts_at + timedelta(minutes=5))
    fhir.server.set_status(f"Appointment/{arrived_appt['id']}", "arrived")

    seen = await FhirHis().pull_visit_status(fhir.city, "H1", session.date, {"base_url": fhir.url}, {})
    assert {(v.booking_id, v.outcome) for v in seen} == {(absent.id, "no_show"), (came.id, "seen"),
                                                         (arrived.id, "checked_in")}
    came_visit = next(v for v in seen if v.booking_id == came.id)
    assert came_visit.reference == f"Encounter/{fhir.server.all('Encounter')[0]['id']}"
    starts = second.starts_at if second.starts_at.tzinfo else second.starts_at.replace(tzinfo=UTC)
    assert came_visit.at == starts + timedelta(minutes=5) and came_visit.at.tzinfo is not None

    with frozen(second.ends_at + timedelta(minutes=1)), use_city(fhir.city):
        run = await sweep_visits(fhir.rt, fhir.cat.hospital.id, session.date)
    assert (run.outcome, run.items, run.details["no_shows"], run.details["checked_in"]) == ("ok", 3, 1, 2)
    with use_city(fhir.city):
        async with fhir.rt.db.transaction() as s:
            statuses = {b.id: str(b.status) for b in (await s.scalars(select(Booking))).all()}
            credit = (await s.scalars(select(CreditEvent).where(CreditEvent.member_id == absent.member_id))).all()
    assert (statuses[absent.id], statuses[came.id], statuses[arrived.id]) == ("no_show", "checked_in", "checked_in")
    assert [c.kind for c in credit][:1] == ["no_show"]

    search = fhir.server.requests("GET", "/Appointment")[-1]
    assert ("identifier", f"{SID}/booking|") in search.query
    assert [v for k, v in search.query if k == "date"] == [
        f"ge{session.date.isoformat()}T00:00:00+08:00", f"lt{(session.date + timedelta(days=1)).isoformat()}T00:00:00+08:00"]
