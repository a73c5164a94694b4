"""A city whose hospital takes payment online through Alipay (the local fake gateway)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from guahao.core.models import Booking, BookingEvent, OutboxMessage
from guahao.core.plugins.manager import configure
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve
from tests.factories import Catalogue, make_catalogue
from tests.fakes.alipay import Account, FakeAlipay
from tests.fakes.live import LiveServer

# An environment installed before the entry point was added still finds the plugin.


@pytest.fixture(scope="session")
def alipay_api():
    fake = FakeAlipay()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


@dataclass
class AlipayCity:
    rt: object
    cat: Catalogue
    account: Account

    @property
    def city(self):
        return self.cat.city

    async def held_booking(self, session_index: int = 0, channel: str = "web") -> Booking:
        period = self.cat.periods[self.cat.sessions[session_index].id][0]
        return await reserve(self.rt, self.city, await make_member(self.rt, self.city), period.id, channel=channel)

    async def booking(self, ref: str) -> Booking:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return await s.scalar(select(Booking).where(Booking.id == ref))

    async def events(self, ref: str) -> list[BookingEvent]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(
                    select(BookingEvent).where(BookingEvent.booking_id == ref).order_by(BookingEvent.id))).all())

    async def outbox(self, topic: str) -> list[OutboxMessage]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(
                    select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id))).all())


async def enable_alipay(rt, city, fake: FakeAlipay, account: Account, **settings) -> None:
    await configure(rt, city, "alipay", settings={"app_id": account.app_id, "gateway": fake.gateway, **settings},
                    secrets=account.secrets())


@pytest.fixture
async def alipay_city(rt, city, alipay_api) -> AlipayCity:
    cat = await make_catalogue(rt, city, payment_mode="online")
    account = alipay_api.add_account()
    await enable_alipay(rt, city, alipay_api, account)
    return AlipayCity(rt, cat, account)
