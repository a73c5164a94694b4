"""A city with phone booking enabled (the test catalogue: 第一人民医院 H1, 呼吸内科, doctors 王建国
and 李秀英 with morning sessions on the next three days), its auth token, and callers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from guahao.core.jobs import drain_in_process
from guahao.core.models import Booking, Notification
from guahao.core.plugins.manager import configure
from guahao.plugins.channels.ivr.models import IvrCall
from guahao.tenants.context import use_city
from tests.factories import Catalogue, make_catalogue
from tests.fakes.caller import Caller

TOKEN = "ivr-auth-token-0123456789abcdef"
AGENT = "+861012320"


def pin_of(member) -> str:
    """The keypad PIN of a test member: the last six characters of the ID number, X as 0."""
    from guahao.tenants.crypto import cipher

    return cipher().decrypt(member.id_number_encrypted)[-6:].replace("X", "0")


@dataclass
class PhoneCity:
    rt: object
    cat: Catalogue
    client: object

    @property
    def city(self):
        return self.cat.city

    def url(self) -> str:
        return f"http://testserver/c/{self.city.slug}/ivr/voice"

    def caller(self, phone: str, token: str = TOKEN, **kw) -> Caller:
        return Caller(self.client, self.url(), token, caller=phone, **kw)

    async def drain(self) -> int:
        return await drain_in_process(self.rt, city_id=self.city.id)

    async def bookings(self, member_id: int) -> list[Booking]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(select(Booking).where(Booking.member_id == member_id)
                                             .order_by(Booking.created_at))).all())

    async def calls(self) -> list[IvrCall]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(select(IvrCall).order_by(IvrCall.id))).all())

    async def texts(self, phone: str) -> list[Notification]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(select(Notification).where(Notification.recipient == phone,
                                                                       Notification.kind == "channel_reply")
                                             .order_by(Notification.id))).all())


async def enable_ivr(rt, city, **settings) -> None:
    await configure(rt, city, "ivr", settings={"agent_number": AGENT, **settings}, secrets={"auth_token": TOKEN})


@pytest.fixture
async def phone_city(rt, city, client) -> PhoneCity:
    cat = await make_catalogue(rt, city)
    await enable_ivr(rt, city)
    return PhoneCity(rt, cat, client)
