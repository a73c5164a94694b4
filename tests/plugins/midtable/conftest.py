"""A city whose hospital exchanges data through intermediate tables in this machine's MariaDB
(127.0.0.1:3306, root): each test gets a database of its own, made from docs/his-midtable.sql
by the simulated hospital and dropped after it."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from guahao.core.jobs import drain_in_process
from guahao.core.models import BookingEvent, Hospital, OutboxMessage
from guahao.plugins.his.midtable import database, runtime
from guahao.plugins.his.midtable.simulator import SimulatedHospital
from guahao.tenants.context import CityContext, use_city
from guahao.tenants.service import configure_plugin, get_city
from tests.factories import Catalogue, make_catalogue

MARIADB = dict(host=os.environ.get("MIDTABLE_HOST", "127.0.0.1"), port=int(os.environ.get("MIDTABLE_PORT", "3306")),
               user=os.environ.get("MIDTABLE_USER", "root"), password=os.environ.get("MIDTABLE_PASSWORD", ""))


@dataclass
class His:
    rt: object
    city: CityContext
    cat: Catalogue
    sim: SimulatedHospital

    @property
    def code(self) -> str:
        return self.cat.hospital.code

    async def drain(self) -> None:
        await drain_in_process(self.rt, city_id=self.city.id)

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


def settings_for(sim: SimulatedHospital, **more) -> dict:
    return {"url": sim.url, "timeout": 2, "ack_wait": 0, **more}


async def use_midtable(rt, city: CityContext, hospital_id: int, sim: SimulatedHospital, **more) -> CityContext:
    """Enable midtable for the city (the hospital's database is ``sim``'s) and make it the hospital's adapter."""
    await configure_plugin(rt.db, city, "midtable", settings=settings_for(sim, **more),
                           secrets={"password": sim.password} if sim.password else None)
    with use_city(city):
        async with rt.db.transaction() as s:
            hospital = await s.scalar(select(Hospital).where(Hospital.id == hospital_id))
            hospital.his_adapter = "midtable"
    return await get_city(rt.db, city.slug)


@pytest.fixture
async def sim():
    async with SimulatedHospital.fresh(**MARIADB) as hospital:
        yield hospital
    await database.dispose_all()


@pytest.fixture
async def his(rt, city, sim) -> His:
    runtime.remember(rt)
    cat = await make_catalogue(rt, city)
    city = await use_midtable(rt, city, cat.hospital.id, sim)
    return His(rt, city, cat, sim)
