"""A city with SMS booking enabled: the test catalogue (第一人民医院, short name 市一院, code H1;
呼吸内科 03.01; doctors 王建国 and 李秀英, morning sessions on the next three days), the plugin's
secrets for the three uplink formats, and a fake gateway per format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from guahao.core.jobs import drain_in_process
from guahao.core.models import Booking, Notification
from guahao.core.plugins.manager import configure
from guahao.plugins.channels.sms_inbound.models import SmsInboundMessage
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.factories import Catalogue, make_catalogue
from tests.fakes.sms_uplink import FakeUplink

SECRETS = {
    "aliyun_token": "aliyun-token-0123456789abcdef",
    "tencent_token": "tencent-token-0123456789abcdef",
    "generic_secret": "generic-secret-0123456789abcdef",
}
CREDENTIALS = {"aliyun": SECRETS["aliyun_token"], "tencent": SECRETS["tencent_token"], "generic": SECRETS["generic_secret"]}


@dataclass
class SmsCity:
    rt: object
    cat: Catalogue
    client: object

    @property
    def city(self):
        return self.cat.city

    def gateway(self, provider: str = "generic", credential: str | None = None) -> FakeUplink:
        return FakeUplink(self.client, f"/c/{self.city.slug}/plugins/sms_inbound", provider,
                          CREDENTIALS[provider] if credential is None else credential)

    @property
    def today(self) -> date:
        return utcnow().astimezone(self.city.tz).date()

    @property
    def tomorrow(self) -> date:
        return self.today + timedelta(days=1)

    async def drain(self) -> int:
        return await drain_in_process(self.rt, city_id=self.city.id)

    async def replies(self, phone: str) -> list[str]:
        """Texts answered to ``phone``, oldest first, from the city's message log (signature removed)."""
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                rows = (await s.scalars(select(Notification).where(Notification.kind == "channel_reply",
                                                                   Notification.recipient == phone)
                                        .order_by(Notification.id))).all()
        return [r.body.split("】", 1)[1] for r in rows]

    async def bookings(self, member_id: int) -> list[Booking]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(select(Booking).where(Booking.member_id == member_id)
                                             .order_by(Booking.created_at))).all())

    async def messages(self) -> list[SmsInboundMessage]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(select(SmsInboundMessage).order_by(SmsInboundMessage.id))).all())


async def enable_sms_inbound(rt, city, **settings) -> None:
    await configure(rt, city, "sms_inbound", settings=settings, secrets=dict(SECRETS))


@pytest.fixture
async def sms_city(rt, city, client) -> SmsCity:
    cat = await make_catalogue(rt, city)
    await enable_sms_inbound(rt, city)
    return SmsCity(rt, cat, client)
