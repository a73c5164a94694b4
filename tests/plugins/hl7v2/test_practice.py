"""Practice hospitals (the city's ``simulator`` setting, as in the served demo): a hospital on
hl7v2 with no HIS address gets a simulated HIS and a listener of ours in this process; bookings
go to it as SIU^S12 and come back accepted, and a booking of the day is checked in by the
HIS's ADT^A04 shortly after. Never in production."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from guahao.core.models import Booking, BookingStatus, Hospital
from guahao.plugins.his.hl7v2 import practice
from guahao.plugins.his.hl7v2.running import RUNNING, address
from guahao.tenants.context import use_city
from guahao.tenants.service import configure_plugin, get_city
from tests.factories import make_catalogue

from .conftest import His
from .test_push import book

EMBEDDED = pytest.mark.embedded  # a practice HIS runs only in the embedded default (never in production)

@pytest.fixture
async def practice_city(rt, city, monkeypatch):
    monkeypatch.setattr(practice, "ARRIVES_AFTER_SECONDS", 0.2)
    cat = await make_catalogue(rt, city)
    await configure_plugin(rt.db, city, "hl7v2", settings={"simulator": True, "timeout": 2})
    with use_city(city):
        async with rt.db.transaction() as s:
            (await s.scalar(select(Hospital).where(Hospital.id == cat.hospital.id))).his_adapter = "hl7v2"
    hospitals = practice.PracticeHospitals(rt, city_ids={city.id})
    await hospitals.scan()
    yield His(rt, await get_city(rt.db, city.slug), cat, RUNNING[(city.id, cat.hospital.code)].his), hospitals
    for key in list(hospitals.mine):
        await hospitals._stop(key)


async def _status(his: His, ref: str) -> str:
    with use_city(his.city):
        async with his.rt.db.transaction() as s:
            return str(await s.scalar(select(Booking.status).where(Booking.id == ref)))


@EMBEDDED
async def test_a_booking_reaches_the_practice_his_and_the_patient_arrives(practice_city, monkeypatch):
    his, hospitals = practice_city
    monkeypatch.setattr(practice.PracticeHis, "_today", lambda self, msg: bool(self.listener_port))
    assert address(his.city.id, his.cat.hospital.code) == ("127.0.0.1", his.sim.port)
    await hospitals.scan()  # a second scan keeps the running one
    assert RUNNING[(his.city.id, his.cat.hospital.code)].his is his.sim
    b = await book(his)
    await his.drain()
    [push] = await his.pushes(b.id)
    assert push["action"] == "book" and push["reference"] == his.sim.appointments[b.id].filler_id
    for _ in range(50):  # the patient "arrives": ADT^A04 to our listener checks the booking in
        if await _status(his, b.id) == BookingStatus.checked_in:
            break
        await asyncio.sleep(0.1)
    assert await _status(his, b.id) == BookingStatus.checked_in
    logged = [(m.direction, m.message_type, m.ack_code) for m in await his.log()]
    assert ("out", "SIU^S12", "AA") in logged and ("in", "ADT^A04", "AA") in logged


@EMBEDDED
async def test_only_the_days_bookings_arrive(practice_city):
    his, _ = practice_city
    b = await book(his, session_index=len(his.cat.sessions) - 1)  # the last day of the catalogue
    await his.drain()
    assert his.sim.appointments[b.id].start[:8] != practice.utcnow().astimezone(his.city.tz).strftime("%Y%m%d")
    await asyncio.sleep(0.5)
    assert not his.sim.arrivals and await _status(his, b.id) == BookingStatus.confirmed


@EMBEDDED
async def test_a_hospital_given_an_address_or_a_city_turning_it_off_stops_its_practice_his(practice_city, rt):
    his, hospitals = practice_city
    key = (his.city.id, his.cat.hospital.code)
    await configure_plugin(rt.db, his.city, "hl7v2", settings={"simulator": False})
    await hospitals.scan()
    assert key not in RUNNING and address(*key) is None


async def test_never_in_production():
    production = practice.PracticeHospitals(SimpleNamespace(settings=SimpleNamespace(production=True)))
    assert await production.wanted() == {}
