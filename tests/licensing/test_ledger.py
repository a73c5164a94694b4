"""The usage ledger: facts counted once per source id, chained per city, append-only, verified."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from guahao.licensing.ledger import chain
from guahao.licensing.ledger.append import Usage, append
from guahao.licensing.ledger.models import UsageEvent
from guahao.licensing.ledger.periods import month_bounds, parse_month
from guahao.licensing.ledger.query import period_totals
from guahao.licensing.ledger.verify import verify
from guahao.plugin_api import city_session
from guahao.tenants.db import make_engine
from tests.factories import make_city

T0 = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def _u(n: int, meter: str = "booking.confirmed", qty: int = 1, **dims) -> Usage:
    return Usage(meter, qty, f"{meter}:src-{n}", T0 + timedelta(minutes=n), dims)


async def test_facts_are_counted_once_per_source_id_and_chained(rt, city):
    async with city_session(rt, city) as s:
        assert await append(s, [_u(1), _u(2), _u(1)]) == 2  # a repeat inside one call counts once
    async with city_session(rt, city) as s:
        assert await append(s, [_u(2), _u(3)]) == 1  # replayed: only the new one is added
    async with city_session(rt, city) as s:
        rows = (await s.scalars(select(UsageEvent).order_by(UsageEvent.seq))).all()
        assert [r.seq for r in rows] == [1, 2, 3]
        assert rows[0].prev_hash == chain.GENESIS
        assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
        assert (await verify(s)).ok


async def test_each_city_has_its_own_chain(rt, city):
    other = await make_city(rt, city.slug + "-o")
    async with city_session(rt, city) as s:
        await append(s, [_u(1)])
    async with city_session(rt, other) as s:
        await append(s, [_u(1), _u(2)])  # the same source id in another city is another fact
    async with city_session(rt, city) as s:
        assert [r.seq for r in (await s.scalars(select(UsageEvent))).all()] == [1]
    async with city_session(rt, other) as s:
        v = await verify(s)
        assert v.ok and v.rows == 2


async def test_the_database_refuses_changes_and_deletions(rt, city):
    async with city_session(rt, city) as s:
        await append(s, [_u(1)])
    for stmt in ("UPDATE usage_events SET quantity = 5", "DELETE FROM usage_events"):
        with pytest.raises(DBAPIError, match="append-only|permission denied"):
            async with city_session(rt, city) as s:
                await s.execute(text(stmt + f" WHERE city_id = {city.id}"))
    async with city_session(rt, city) as s:
        assert (await s.scalar(select(UsageEvent.quantity))) == 1


async def _tamper(settings, city_id: int, sql: str) -> None:
    """Change a row as someone with the owner's rights would (triggers lifted)."""
    engine = make_engine(settings.owner_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("ALTER TABLE usage_events DISABLE TRIGGER usage_events_append_only"))
                await conn.execute(text(sql), {"c": city_id})
                await conn.execute(text("ALTER TABLE usage_events ENABLE TRIGGER usage_events_append_only"))
            else:
                await conn.execute(text("DROP TRIGGER usage_events_no_update"))
                await conn.execute(text("DROP TRIGGER usage_events_no_delete"))
                await conn.execute(text(sql), {"c": city_id})
                from guahao.tenants.append_only import sqlite_sql

                for stmt in sqlite_sql("usage_events"):
                    await conn.execute(text(stmt))
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "sql, seq, words",
    [
        ("UPDATE usage_events SET quantity = 7 WHERE city_id = :c AND seq = 2", 2, "changed"),
        ("""UPDATE usage_events SET dimensions = '{"channel": "x"}' WHERE city_id = :c AND seq = 2""", 2, "changed"),
        ("DELETE FROM usage_events WHERE city_id = :c AND seq = 2", 3, "missing"),
        ("DELETE FROM usage_events WHERE city_id = :c AND seq = 3", 3, "removed"),
    ],
)
async def test_verify_names_the_first_row_that_does_not_match(rt, city, sql, seq, words):
    async with city_session(rt, city) as s:
        await append(s, [_u(1), _u(2), _u(3)])
    await _tamper(rt.settings, city.id, sql)
    async with city_session(rt, city) as s:
        v = await verify(s)
    assert not v.ok and v.bad_seq == seq and words in v.problem


def test_the_canonical_content_and_its_hash_are_pinned():
    """The chain's written format (chain.py) as bytes and hash: a change of spelling would make
    every stored chain fail to verify."""
    content = chain.canonical(
        city_id=3, seq=2, meter="notification.sent", quantity=2, dimensions={"kind": "预约成功", "channel": "sms"},
        occurred_at=datetime(2026, 11, 3, 2, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8))),
        source_id='notification.sent:"x"\\9', recorded_at=datetime(2026, 11, 3, 2, 0, 1),
    )
    assert content.decode() == (
        '[3,2,"notification.sent",2,{"channel":"sms","kind":"预约成功"},"2026-11-02T18:00:00.123456Z",'
        '"notification.sent:\\"x\\"\\\\9","2026-11-03T02:00:01.000000Z"]'
    )
    assert chain.link(chain.GENESIS, content) == "ef79d9a686e07b06f8cd15392590fe66af53469f4d4a3ba29611f767e29e0360"
    as_json = json.dumps([3, 2, "notification.sent", 2, {"channel": "sms", "kind": "预约成功"},
                          "2026-11-02T18:00:00.123456Z", 'notification.sent:"x"\\9', "2026-11-03T02:00:01.000000Z"],
                         ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert content == as_json.encode()


async def test_period_totals_name_their_first_and_last_rows(rt, city):
    items = [_u(1), _u(2), _u(3, "notification.sent", 2, channel="sms"), _u(4, "notification.sent", 1, channel="wechat")]
    items.append(Usage("booking.confirmed", 1, "late", T0 + timedelta(days=40)))  # December: outside
    async with city_session(rt, city) as s:
        await append(s, items)
        start, end = month_bounds(city.tz, parse_month("2026-11"))
        totals = await period_totals(s, start, end, by={"notification.sent": "channel"})
    by = {(t.meter, t.value): t for t in totals}
    booked = by[("booking.confirmed", "")]
    assert (booked.quantity, booked.rows, booked.first_seq, booked.last_seq) == (2, 2, 1, 2)
    assert by[("notification.sent", "")].quantity == 3
    assert by[("notification.sent", "sms")].quantity == 2 and by[("notification.sent", "wechat")].quantity == 1
    async with city_session(rt, city) as s:
        rows = {r.seq: r.hash for r in (await s.scalars(select(UsageEvent))).all()}
    assert booked.first_hash == rows[1] and booked.last_hash == rows[2]
