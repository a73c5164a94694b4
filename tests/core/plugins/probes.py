"""Test helpers shared by the plugin and job tests: probe plugins, members, outbox runs."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from sqlalchemy import select

from guahao.core.hookspecs import hookimpl
from guahao.core.models import Member, OutboxMessage
from guahao.tenants.context import CityContext, use_city
from guahao.tenants.crypto import cipher
from guahao.tenants.service import configure_plugin, get_city

_phones = itertools.count(13800000000)


class Probe:
    """A plugin that records what reaches it and can be told to fail or to handle a topic."""

    def __init__(self, *, fail: bool = False, asynchronous: bool = False, topic: str | None = None):
        self.fail = fail
        self.asynchronous = asynchronous
        self.topic = topic
        self.events: list[tuple[int, dict]] = []
        self.sent: list[dict] = []
        self.jobs: list[tuple[object, dict]] = []

    def _answer(self, value):
        if self.fail:
            raise RuntimeError("probe told to fail")
        if self.asynchronous:
            async def later():
                return value

            return later()
        return value

    @hookimpl
    def guahao_booking_event(self, city, event):
        self.events.append((city.id, event))
        return self._answer("seen")

    @hookimpl
    def guahao_notification_sent(self, city, notification):
        self.sent.append(notification)

    @hookimpl
    def guahao_outbox_handlers(self):
        if not self.topic:
            return {}

        async def handle(ctx, payload):
            self.jobs.append((ctx, payload))
            if payload.get("fail"):
                raise RuntimeError(f"job failed: {payload.get('fail')}")

        return {self.topic: handle}


@pytest.fixture
def register_plugin(rt):
    """``register_plugin(obj, name)``: add a plugin to the process for one test."""
    names: list[str] = []

    def register(obj: object, name: str) -> object:
        rt.plugins.register(obj, name)
        names.append(name)
        return obj

    yield register
    for name in names:
        rt.plugins.unregister(name)


async def enable(rt, city: CityContext, plugin: str, **options) -> CityContext:
    """Enable/configure a plugin for a city and return the city's fresh context."""
    await configure_plugin(rt.db, city, plugin, **options)
    return await get_city(rt.db, city.slug)


async def make_member(rt, city: CityContext, *, name: str = "张三", opt_out: bool = False) -> Member:
    phone = str(next(_phones))
    number = f"11010119900307{phone[-3:]}X"
    with use_city(city):
        async with rt.db.transaction() as s:
            m = Member(
                name=name,
                id_number_encrypted=cipher().encrypt(number),
                id_number_hash=cipher().lookup_hash(number + city.slug),
                id_number_masked=number[:4] + "*" * 10 + number[-4:],
                birth_date=date(1990, 3, 7),
                sex="M",
                phone=phone,
                password_hash="x",
                notifications_opt_out=opt_out,
            )
            s.add(m)
    return m


async def outbox_rows(rt, city: CityContext, **where) -> list[OutboxMessage]:
    with use_city(city):
        async with rt.db.transaction() as s:
            q = select(OutboxMessage).order_by(OutboxMessage.id)
            for key, value in where.items():
                q = q.where(getattr(OutboxMessage, key) == value)
            return list((await s.scalars(q)).all())


async def emit_row(rt, city: CityContext, topic: str, payload: dict, **fields) -> int:
    from guahao.core.outbox import emit

    with use_city(city):
        async with rt.db.transaction() as s:
            msg = emit(s, topic, payload, due_at=fields.pop("due_at", None))
            for key, value in fields.items():
                setattr(msg, key, value)
            await s.flush()
            return msg.id


async def set_aside_other_cities(rt, city: CityContext) -> int:
    """Move every other city's open outbox rows far into the future, for a test that runs a real
    relay and arq worker: the shared test database holds the undelivered rows of every earlier
    test (and the sweeps plan work for every city), which the relay would otherwise hand out
    first. Those tests are over; returns how many rows were set aside."""
    from datetime import UTC, datetime

    from sqlalchemy import update

    from guahao.tenants.context import platform_scope

    with platform_scope("tests: set aside the outbox rows of earlier tests' cities"):
        async with rt.db.transaction() as s:
            result = await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.city_id != city.id, OutboxMessage.status.in_(("pending", "queued")))
                .values(status="pending", due_at=datetime(2999, 1, 1, tzinfo=UTC))
            )
            return int(result.rowcount or 0)
