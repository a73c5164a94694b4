"""A city whose hospital takes payment online through Stripe (the local fake Stripe)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from guahao.core.models import Booking, BookingEvent, OutboxMessage
from guahao.core.plugins.manager import configure
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve
from tests.factories import Catalogue, make_catalogue
from tests.fakes.stripe import Account


@dataclass
class StripeCity:
    rt: object
    cat: Catalogue
    account: Account

    @property
    def city(self):
        return self.cat.city

    async def held_booking(self, session_index: int = 0) -> Booking:
        period = self.cat.periods[self.cat.sessions[session_index].id][0]
        return await reserve(self.rt, self.city, await make_member(self.rt, self.city), period.id)

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


async def enable_stripe(rt, city, fake, account: Account, **settings) -> None:
    await configure(
        rt, city, "stripe",
        settings={"api_base": fake.url, "currency": "cny", "max_network_retries": 0, **settings},
        secrets={"secret_key": account.secret_key, "webhook_secret": account.webhook_secret},
    )


@pytest.fixture
async def stripe_city(rt, city, stripe_api) -> StripeCity:
    cat = await make_catalogue(rt, city, payment_mode="online")
    account = stripe_api.add_account()
    await enable_stripe(rt, city, stripe_api, account)
    return StripeCity(rt, cat, account)
