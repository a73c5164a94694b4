"""Counting a city's past from its own records: the same rows the live hooks count, under the
same source ids, so backfilling after (or before) live metering, or twice, adds nothing."""

from __future__ import annotations

from guahao.core.jobs import drain_in_process
from guahao.licensing.backfill import backfill
from guahao.licensing.ledger.verify import verify
from guahao.plugin_api import city_session
from tests.api.conftest import signup, url
from tests.licensing.test_metering import ledger, totals


async def _book_and_cancel(rt, city, catalogue, client) -> None:
    members = [await signup(client, rt, city) for _ in range(3)]
    periods = [p.id for cs in catalogue.sessions[:3] for p in catalogue.periods[cs.id][:1]]
    refs = []
    for m, period in zip(members, periods, strict=True):
        r = await client.post(url(city, "/bookings"), json={"period_id": period, "channel": "app"}, headers=m.headers)
        assert r.status_code == 201, r.text
        refs.append(r.json()["id"])
    # The third is two days ahead: cancellable whatever the hour (tomorrow's may be past its deadline).
    r = await client.post(url(city, f"/bookings/{refs[2]}/cancel"), json={"reason": "行程有变"}, headers=members[2].headers)
    assert r.status_code == 200


async def test_backfill_counts_what_live_metering_would_and_nothing_twice(rt, city, catalogue, client):
    await _book_and_cancel(rt, city, catalogue, client)
    # Nothing has been metered yet: the outbox has not run.
    assert await ledger(rt, city) == []
    done = await backfill(rt, city)
    rows = await ledger(rt, city)
    assert totals(rows)["booking.confirmed"] == (3, 3) and totals(rows)["booking.cancelled"] == (1, 1)
    assert totals(rows)["member.registered"] == (3, 3) and totals(rows)["hospital.active"] == (1, 1)
    assert done.total == len(rows) and done.members == 3

    # Live metering of the same events (and the messages they send) adds only the messages.
    await drain_in_process(rt, city_id=city.id)
    after = await ledger(rt, city)
    assert {r.meter for r in after[len(rows):]} <= {"notification.sent"}
    assert (await backfill(rt, city)).total == 0
    async with city_session(rt, city) as s:
        assert (await verify(s)).ok


async def test_backfill_after_live_metering_adds_nothing(rt, city, catalogue, client):
    await _book_and_cancel(rt, city, catalogue, client)
    await drain_in_process(rt, city_id=city.id)
    before = [(r.seq, r.hash) for r in await ledger(rt, city)]
    assert before
    assert (await backfill(rt, city)).total == 0
    assert [(r.seq, r.hash) for r in await ledger(rt, city)] == before
