"""A city whose hospital's HIS speaks HL7 v2 over MLLP: the shipped simulator is the far end."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from guahao.core.jobs import drain_in_process
from guahao.core.models import BookingEvent, Hospital, OutboxMessage
from guahao.plugins.his.hl7v2 import log as hl7_log
from guahao.plugins.his.hl7v2.models import Hl7v2Message
from guahao.plugins.his.hl7v2.simulator import SimulatedHis
from guahao.tenants.context import CityContext, use_city
from guahao.tenants.service import configure_plugin, get_city
from tests.factories import Catalogue, make_catalogue


@dataclass
class His:
    rt: object
    city: CityContext
    cat: Catalogue
    sim: SimulatedHis

    async def refresh(self) -> None:
        self.city = await get_city(self.rt.db, self.city.slug)

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
                q = select(OutboxMessage).where(OutboxMessage.topic == "his.push").order_by(OutboxMessage.id)
                rows = (await s.scalars(q)).all()
        return [r for r in rows if all((r.payload or {}).get(k) == v for k, v in where.items())]

    async def log(self) -> list[Hl7v2Message]:
        return list(reversed(await hl7_log.recent(self.rt, self.city, self.cat.hospital.id, limit=1000)))


async def use_hl7v2(rt, city: CityContext, hospital_id: int, port: int, **settings) -> CityContext:
    """Enable hl7v2 for the city (the HIS at 127.0.0.1:``port``) and make it the hospital's adapter."""
    await configure_plugin(rt.db, city, "hl7v2", settings={"host": "127.0.0.1", "port": port, "timeout": 2, **settings})
    with use_city(city):
        async with rt.db.transaction() as s:
            hospital = await s.scalar(select(Hospital).where(Hospital.id == hospital_id))
            hospital.his_adapter = "hl7v2"
    return await get_city(rt.db, city.slug)


@pytest.fixture
async def sim():
    async with SimulatedHis() as his:
        yield his


@pytest.fixture
async def his(rt, city, sim) -> His:
    hl7_log.remember_runtime(rt)
    cat = await make_catalogue(rt, city)
    city = await use_hl7v2(rt, city, cat.hospital.id, sim.port)
    return His(rt, city, cat, sim)
