"""Deliveries never silently give up (R15.4): a HIS down for two hours (simulated clock) gets
every push once it is back; failing rows are listed with their last error, retried or
abandoned by a person (audited); messages to patients alone stop, visibly."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from guahao.core.audit import Actor
from guahao.core.backoffice import deliveries
from guahao.core.errors import DomainError
from guahao.core.jobs import MAX_ATTEMPTS, drain_in_process, process_outbox_message
from guahao.core.jobs.context import BACKOFF_MAX_SECONDS
from guahao.core.models import AuditEntry
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.core.jobs.test_handlers import book, his_events
from tests.core.plugins.probes import emit_row, enable, make_member, outbox_rows
from tests.factories import make_catalogue

ADMIN = Actor("staff", 1, "管理员", "city_admin", "203.0.113.5")


async def _run(rt, city, fn, *args, **kw):
    with use_city(city):
        async with rt.db.transaction() as s:
            return await fn(s, *args, **kw)


async def test_a_his_down_for_two_hours_receives_every_push_when_it_returns(rt, city):
    cat = await make_catalogue(rt, city)
    city = await enable(rt, city, "demo_his", settings={"fail_pushes": True})
    bookings = [await book(rt, city, await make_member(rt, city), cat.periods[cs.id][0].id) for cs in cat.sessions[:3]]

    start = utcnow()
    t = start
    while t < start + timedelta(hours=2):  # the worker's relay, every minute, for two hours
        with frozen(t):
            await drain_in_process(rt, city_id=city.id)
        t += timedelta(minutes=1)
    pushes = await outbox_rows(rt, city, topic="his.push")
    assert len(pushes) == 3
    for row in pushes:  # still owed, failing, and the last error says why
        assert row.status == "pending" and row.attempts > MAX_ATTEMPTS and "HisUnavailable" in row.last_error
        assert row.due_at - t <= timedelta(seconds=BACKOFF_MAX_SECONDS)
    total = await _run(rt, city, deliveries.summary)
    assert total.failing == 3 and total.failed == 0 and total.oldest_open <= start + timedelta(seconds=1)
    listed = await _run(rt, city, deliveries.list_deliveries)
    assert {d.id for d in listed if d.topic == "his.push"} == {r.id for r in pushes}
    assert all(d.state == "failing" and d.error.startswith("HisUnavailable") for d in listed if d.topic == "his.push")

    city = await enable(rt, city, "demo_his")  # the HIS is back
    with frozen(t + timedelta(seconds=BACKOFF_MAX_SECONDS)):
        await drain_in_process(rt, city_id=city.id)
    assert [r.status for r in await outbox_rows(rt, city, topic="his.push")] == ["done"] * 3
    for b in bookings:
        assert [e.data["action"] for e in await his_events(rt, city, b.id)] == ["book"]  # each once


async def test_retry_and_abandon_are_decisions_of_a_person_and_audited(rt, city):
    stuck = await emit_row(rt, city, "nobody.handles", {"booking_id": "GHNOTHERE"}, attempts=MAX_ATTEMPTS,
                           last_error="UnknownTopic: no handler\ntraceback …", due_at=utcnow() + timedelta(minutes=15))
    done = await emit_row(rt, city, "nobody.handles", {}, status="done")

    row = await _run(rt, city, deliveries.retry, ADMIN, stuck)
    assert row.status == "pending" and row.due_at <= utcnow() and row.attempts == MAX_ATTEMPTS
    with pytest.raises(DomainError) as err:
        await _run(rt, city, deliveries.retry, ADMIN, done)
    assert (err.value.code, err.value.status) == ("delivery_done", 409)

    with pytest.raises(DomainError) as err:
        await _run(rt, city, deliveries.abandon, ADMIN, stuck, " ")
    assert (err.value.code, err.value.status) == ("reason_required", 422)
    await _run(rt, city, deliveries.abandon, ADMIN, stuck, "医院已人工处理")
    assert await process_outbox_message(rt, stuck) == "abandoned"  # no runner touches it again
    [row] = await outbox_rows(rt, city, id=stuck)
    assert row.status == "abandoned" and row.attempts == MAX_ATTEMPTS
    assert [d.id for d in await _run(rt, city, deliveries.list_deliveries, view="closed")] == [stuck]
    assert (await _run(rt, city, deliveries.summary)).abandoned == 1

    with pytest.raises(DomainError) as err:  # another city's row, or none, is not found
        await _run(rt, city, deliveries.retry, ADMIN, 10**9)
    assert (err.value.code, err.value.status) == ("delivery_not_found", 404)

    with use_city(city):
        async with rt.db.transaction() as s:
            entries = (await s.scalars(select(AuditEntry).where(AuditEntry.target_type == "outbox")
                                       .order_by(AuditEntry.id))).all()
    assert [(e.action, e.target_id, e.reason) for e in entries] == [
        ("outbox.retry", str(stuck), ""), ("outbox.abandon", str(stuck), "医院已人工处理")]
    assert entries[0].before["status"] == "pending" and entries[1].after["status"] == "abandoned"
    assert entries[0].ip == "203.0.113.5"


async def test_a_hospital_sees_only_its_own_bookings_deliveries(rt, city):
    cat = await make_catalogue(rt, city)
    city = await enable(rt, city, "demo_his", settings={"fail_pushes": True})
    booking = await book(rt, city, await make_member(rt, city), cat.periods[cat.sessions[0].id][0].id)
    await drain_in_process(rt, city_id=city.id)
    [push] = await outbox_rows(rt, city, topic="his.push")
    mine = await _run(rt, city, deliveries.list_deliveries, hospital_id=cat.hospital.id)
    assert [(d.id, d.booking_id, d.hospital_name) for d in mine] == [(push.id, booking.id, cat.hospital.name)]
    assert await _run(rt, city, deliveries.list_deliveries, hospital_id=cat.hospital.id + 1000) == []
    with pytest.raises(DomainError) as err:
        await _run(rt, city, deliveries.retry, ADMIN, push.id, hospital_id=cat.hospital.id + 1000)
    assert err.value.code == "delivery_not_found"
    assert (await _run(rt, city, deliveries.summary, hospital_id=cat.hospital.id)).retrying == 1


async def test_retry_all_failed_takes_failing_and_given_up_rows_only(rt, city):
    failing = await emit_row(rt, city, "nobody.handles", {}, attempts=MAX_ATTEMPTS + 2,
                             due_at=utcnow() + timedelta(minutes=10))
    gave_up = await emit_row(rt, city, "notify", {"kind": "announcement"}, attempts=MAX_ATTEMPTS, status="failed")
    retrying = await emit_row(rt, city, "nobody.handles", {}, attempts=2, due_at=utcnow() + timedelta(minutes=1))
    ids = await _run(rt, city, deliveries.retry_all_failed, ADMIN)
    assert sorted(ids) == sorted([failing, gave_up])
    rows = {r.id: r for r in await outbox_rows(rt, city)}
    assert rows[failing].status == rows[gave_up].status == "pending"
    assert rows[retrying].due_at > utcnow()  # left to its own schedule
