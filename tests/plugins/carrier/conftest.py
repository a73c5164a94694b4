"""A city whose hospital takes payment online on the member's phone bill (the local fake
carrier gateway)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from guahao.core import payments
from guahao.core.jobs import process_outbox_message
from guahao.core.models import Booking, BookingEvent, OutboxMessage
from guahao.core.plugins.manager import configure
from guahao.plugins.payments.carrier.models import CarrierCallback
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve
from tests.factories import Catalogue, make_catalogue
from tests.fakes.carrier import Account, Callback, FakeCarrier
from tests.fakes.live import LiveServer

# An environment installed before the entry point was added still finds the plugin.

PHONE = "13800138000"  # a China Mobile number


@pytest.fixture(scope="session")
def carrier_api():
    fake = FakeCarrier()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


@dataclass
class CarrierCity:
    rt: object
    cat: Catalogue
    api: FakeCarrier
    account: Account

    @property
    def city(self):
        return self.cat.city

    def return_url(self, booking, phone: str = PHONE) -> str:
        hint = f"?pay_phone={phone}" if phone else ""
        return f"http://testserver/c/{self.city.slug}/bookings/{booking.id}/paid{hint}"

    async def held_booking(self, session_index: int = 0) -> Booking:
        period = self.cat.periods[self.cat.sessions[session_index].id][0]
        return await reserve(self.rt, self.city, await make_member(self.rt, self.city), period.id)

    async def start(self, booking, phone: str = PHONE):
        with use_city(self.city):
            return await payments.start_payment(self.rt, member_id=booking.member_id, booking_id=booking.id,
                                                return_url=self.return_url(booking, phone))

    async def deliver(self, client, callback: Callback):
        return await client.post(callback.path, content=callback.body, headers=callback.headers)

    async def booking(self, ref: str) -> Booking:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return await s.scalar(select(Booking).where(Booking.id == ref))

    async def events(self, ref: str) -> list[BookingEvent]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(
                    select(BookingEvent).where(BookingEvent.booking_id == ref).order_by(BookingEvent.id))).all())

    async def callbacks(self) -> list[CarrierCallback]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(select(CarrierCallback).order_by(CarrierCallback.id))).all())

    async def outbox(self, topic: str) -> list[OutboxMessage]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(
                    select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id))).all())

    async def run_topic(self, topic: str) -> list[str | None]:
        return [await process_outbox_message(self.rt, m.id) for m in await self.outbox(topic) if m.status == "pending"]


async def enable_carrier(rt, city, api: FakeCarrier, account: Account, **settings) -> None:
    await configure(rt, city, "carrier", settings={**account.settings(api.gateway_url), **settings}, secrets=account.secrets())


@pytest.fixture
async def carrier_city(rt, city, carrier_api) -> CarrierCity:
    cat = await make_catalogue(rt, city, payment_mode="online")
    account = carrier_api.add_account()
    await enable_carrier(rt, city, carrier_api, account)
    return CarrierCity(rt, cat, carrier_api, account)
