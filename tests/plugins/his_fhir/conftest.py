"""A city whose hospital's HIS is a FHIR R4 server: the plugin's fake server, served by uvicorn
on a free port, is the far end; the real adapter talks to it over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from guahao.core.jobs import drain_in_process
from guahao.core.models import Booking, BookingEvent, Hospital, OutboxMessage
from guahao.plugins.his.fhir.auth import forget_tokens
from guahao.plugins.his.fhir.fake import FakeFhirServer
from guahao.plugins.his.fhir.meta import SID
from guahao.tenants.context import CityContext, use_city
from guahao.tenants.service import configure_plugin, get_city
from tests.core.booking.helpers import reserve
from tests.core.plugins.probes import make_member
from tests.factories import Catalogue, make_catalogue
from tests.fakes.live import LiveServer

CAPACITY_EXT = "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity"


@dataclass
class Fhir:
    rt: object
    city: CityContext
    cat: Catalogue
    server: FakeFhirServer
    url: str
    schedules: dict[int, str]  # doctor id → the doctor's Schedule at the HIS

    async def drain(self) -> None:
        await drain_in_process(self.rt, city_id=self.city.id)

    async def book(self, session_index: int = 0, period_index: int = 0, name: str = "李四") -> Booking:
        period = self.cat.periods[self.cat.sessions[session_index].id][period_index]
        member = await make_member(self.rt, self.city, name=name)
        return await reserve(self.rt, self.city, member.id, period.id)

    async def pushes(self, booking_id: str) -> list[dict]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                rows = (await s.scalars(select(BookingEvent).where(
                    BookingEvent.booking_id == booking_id, BookingEvent.kind == "his_pushed").order_by(BookingEvent.id))).all()
        return [r.data for r in rows]

    async def outbox(self, **where) -> list[OutboxMessage]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "his.push")
                                        .order_by(OutboxMessage.id))).all()
        return [r for r in rows if all((r.payload or {}).get(k) == v for k, v in where.items())]

    async def configure(self, **settings) -> None:
        """The city's fhir settings (base URL of the fake and a short timeout unless given)."""
        secrets = settings.pop("secrets", {})
        await configure_plugin(self.rt.db, self.city, "fhir",
                               settings={"base_url": self.url, "timeout": 3, **settings}, secrets=secrets)
        self.city = await get_city(self.rt.db, self.city.slug)

    def appointments(self, booking_id: str | None = None) -> list[dict]:
        return [a for a in self.server.all("Appointment")
                if booking_id is None or any(i.get("value") == booking_id for i in a.get("identifier") or [])]


def stamp(city: CityContext, at: datetime) -> str:
    return at.astimezone(city.tz).isoformat(timespec="seconds")


def seed_catalogue(server: FakeFhirServer, cat: Catalogue, city: CityContext) -> dict[int, str]:
    """The hospital's FHIR view of the catalogue: a Practitioner per doctor (identifier: the
    platform's doctor number), the department and campus, a Schedule per doctor and a Slot per
    period of the catalogue's sessions. Returns doctor id → Schedule reference."""
    dept = server.add({"resourceType": "HealthcareService", "name": cat.department.name,
                       "identifier": [{"system": f"{SID}/department", "value": cat.department.code}]})
    campus = server.add({"resourceType": "Location", "name": cat.campus.name,
                         "identifier": [{"system": f"{SID}/campus", "value": str(cat.campus.id)}]})
    schedules = {}
    for doctor in (cat.doctor, cat.doctor2):
        person = server.add({"resourceType": "Practitioner", "name": [{"text": doctor.name}],
                             "identifier": [{"system": f"{SID}/doctor", "value": f"D{doctor.id}"}]})
        schedule = server.add({"resourceType": "Schedule", "active": True, "actor": [
            {"reference": f"Practitioner/{person['id']}"}, {"reference": f"HealthcareService/{dept['id']}"},
            {"reference": f"Location/{campus['id']}"}]})
        schedules[doctor.id] = f"Schedule/{schedule['id']}"
    for session in cat.sessions:
        for period in cat.periods[session.id]:
            server.add(slot(schedules[session.doctor_id], city, period.starts_at, period.ends_at, capacity=2))
    return schedules


def slot(schedule: str, city: CityContext, start: datetime, end: datetime, *, capacity: int = 1,
         status: str = "free", comment: str = "") -> dict:
    body = {"resourceType": "Slot", "schedule": {"reference": schedule}, "status": status,
            "start": stamp(city, start), "end": stamp(city, end),
            "extension": [{"url": CAPACITY_EXT, "valueInteger": capacity}]}
    if comment:
        body["comment"] = comment
    return body


def at_local(city: CityContext, day, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=city.tz)


async def use_fhir(rt, city: CityContext, hospital_id: int, url: str, **settings) -> CityContext:
    """Enable fhir for the city (the server at ``url``) and make it the hospital's adapter."""
    secrets = settings.pop("secrets", {})
    await configure_plugin(rt.db, city, "fhir", settings={"base_url": url, "timeout": 3, **settings}, secrets=secrets)
    with use_city(city):
        async with rt.db.transaction() as s:
            hospital = await s.scalar(select(Hospital).where(Hospital.id == hospital_id))
            hospital.his_adapter = "fhir"
    return await get_city(rt.db, city.slug)


@pytest.fixture
def server() -> FakeFhirServer:
    return FakeFhirServer()


@pytest.fixture
def live(server):
    forget_tokens()
    with LiveServer(server.app) as running:
        yield running
    forget_tokens()


@pytest.fixture
async def fhir(rt, city, server, live) -> Fhir:
    cat = await make_catalogue(rt, city)
    schedules = seed_catalogue(server, cat, city)
    city = await use_fhir(rt, city, cat.hospital.id, live.url)
    cat.city = city
    return Fhir(rt, city, cat, server, live.url, schedules)


def later(minutes: int = 1) -> timedelta:
    return timedelta(minutes=minutes)
