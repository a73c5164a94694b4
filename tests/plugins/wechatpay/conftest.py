"""A city whose hospital takes payment online through WeChat Pay (the local fake WeChat Pay)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from guahao.core import payments
from guahao.core.jobs import process_outbox_message
from guahao.core.models import Booking, BookingEvent, OutboxMessage
from guahao.core.plugins.manager import configure
from guahao.plugins.payments.wechatpay.models import WechatpayNotification
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve
from tests.factories import Catalogue, make_catalogue
from tests.fakes.live import LiveServer
from tests.fakes.wechatpay import FakeWeChatPay, Merchant

RETURN = "http://testserver/c/x/bookings/B/paid"


@pytest.fixture(scope="session")
def wechatpay_api():
    fake = FakeWeChatPay()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


@dataclass
class PayCity:
    rt: object
    cat: Catalogue
    merchant: Merchant
    fake: FakeWeChatPay

    @property
    def city(self):
        return self.cat.city

    @property
    def notify_path(self) -> str:
        return f"/c/{self.city.slug}/plugins/wechatpay/notify"

    async def held_booking(self, session_index: int = 0) -> Booking:
        period = self.cat.periods[self.cat.sessions[session_index].id][0]
        return await reserve(self.rt, self.city, await make_member(self.rt, self.city), period.id)

    async def start(self, booking, return_url: str = RETURN):
        with use_city(self.city):
            return await payments.start_payment(self.rt, member_id=booking.member_id, booking_id=booking.id,
                                                 return_url=return_url)

    async def check(self, booking):
        with use_city(self.city):
            return await payments.check_payment(self.rt, member_id=booking.member_id, booking_id=booking.id)

    async def booking(self, ref: str) -> Booking:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return await s.scalar(select(Booking).where(Booking.id == ref))

    async def events(self, ref: str) -> list[BookingEvent]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(
                    select(BookingEvent).where(BookingEvent.booking_id == ref).order_by(BookingEvent.id))).all())

    async def kinds(self, ref: str) -> list[str]:
        return [e.kind for e in await self.events(ref)]

    async def outbox(self, topic: str) -> list[OutboxMessage]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(
                    select(OutboxMessage).where(OutboxMessage.topic == topic).order_by(OutboxMessage.id))).all())

    async def run_topic(self, topic: str) -> list[str | None]:
        return [await process_outbox_message(self.rt, m.id) for m in await self.outbox(topic) if m.status == "pending"]

    async def notifications(self) -> list[WechatpayNotification]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(select(WechatpayNotification).order_by(WechatpayNotification.id))).all())

    async def deliver(self, client: httpx.AsyncClient, body: str, headers: dict) -> httpx.Response:
        return await client.post(self.notify_path, content=body.encode(),
                                 headers={**headers, "Content-Type": "application/json"})


async def enable_wechatpay(rt, city, fake: FakeWeChatPay, merchant: Merchant, **settings) -> None:
    await configure(rt, city, "wechatpay", settings=merchant.settings(fake.url, **settings), secrets=merchant.secrets())


@pytest.fixture
async def pay_city(rt, city, wechatpay_api) -> PayCity:
    cat = await make_catalogue(rt, city, payment_mode="online")
    merchant = wechatpay_api.add_merchant()
    await enable_wechatpay(rt, city, wechatpay_api, merchant,
                           notify_url=f"http://testserver/c/{city.slug}/plugins/wechatpay/notify")
    return PayCity(rt, cat, merchant, wechatpay_api)
