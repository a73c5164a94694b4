"""Metering counts every billable fact exactly once: bookings made, paid, cancelled and refunded
through the public API, registrations and delivered messages, drained through the outbox, then
replayed, and delivered again concurrently (PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select, update

from guahao.core.booking import events
from guahao.core.hookspecs import hookimpl
from guahao.core.jobs import drain_in_process, process_outbox_message
from guahao.core.models import Booking, Notification, OutboxMessage
from guahao.core.payments.checkout import payment_received
from guahao.core.plugins.interfaces import PaymentIntent, PaymentProvider, PaymentResult, RefundResult
from guahao.core.plugins.manager import call_robust
from guahao.core.runtime import Runtime
from guahao.core.usage import report_usage
from guahao.licensing.ledger import batch, metering
from guahao.licensing.ledger.meters import sms_segments
from guahao.licensing.ledger.models import UsageEvent
from guahao.licensing.ledger.verify import verify
from guahao.plugin_api import city_session
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.api.conftest import signup, url
from tests.core.plugins.probes import enable
from tests.factories import make_catalogue, make_city

METERED_TOPICS = ("booking.event", "member.event", "notification.sent", "usage.reported")
LONG_AGO = datetime(1990, 1, 1, tzinfo=UTC)


async def ledger(rt, city) -> list[UsageEvent]:
    async with city_session(rt, city) as s:
        return list((await s.scalars(select(UsageEvent).order_by(UsageEvent.seq))).all())


def totals(rows) -> dict[str, tuple[int, int]]:
    """meter → (rows, quantity)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        out[r.meter][0] += 1
        out[r.meter][1] += r.quantity
    return {k: (n, q) for k, (n, q) in out.items()}


async def metered_messages(rt, city) -> list[OutboxMessage]:
    with use_city(city):
        async with rt.db.transaction() as s:
            q = select(OutboxMessage).where(OutboxMessage.topic.in_(METERED_TOPICS)).order_by(OutboxMessage.id)
            return list((await s.scalars(q)).all())


async def rerun_all(rt, city) -> int:
    """Every metered message of the city runs again, as after a worker died before marking it done."""
    with use_city(city):
        async with rt.db.transaction() as s:
            await s.execute(
                update(OutboxMessage).where(OutboxMessage.topic.in_(METERED_TOPICS))
                .values(status="pending", due_at=LONG_AGO, done_at=None)
            )
    return await drain_in_process(rt, city_id=city.id)


async def sent_segments(rt, city) -> tuple[int, int]:
    """(messages delivered, what they bill): SMS in 70-character segments, other channels one each."""
    messages = await metered_messages(rt, city)
    ids = {m.payload["notification_id"]: m.payload.get("channel", "sms") for m in messages if m.topic == "notification.sent"}
    with use_city(city):
        async with rt.db.transaction() as s:
            notes = (await s.scalars(select(Notification).where(Notification.id.in_(ids)))).all()
    return len(notes), sum(sms_segments(len(n.body)) if ids[n.id] == "sms" else 1 for n in notes)


async def test_bookings_through_the_api_are_metered_once_and_replays_add_nothing(rt, city, catalogue, client):
    members = [await signup(client, rt, city) for _ in range(3)]
    periods = [p.id for cs in catalogue.sessions[:3] for p in catalogue.periods[cs.id][:1]]
    refs = []
    for m, period in zip(members, periods, strict=True):
        r = await client.post(url(city, "/bookings"), json={"period_id": period, "channel": "app"}, headers=m.headers)
        assert r.status_code == 201 and r.json()["status"] == "confirmed", r.text
        refs.append(r.json()["id"])
    r = await client.post(url(city, f"/bookings/{refs[2]}/cancel"), json={"reason": "行程有变"}, headers=members[2].headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    await drain_in_process(rt, city_id=city.id)

    rows = await ledger(rt, city)
    delivered, segments = await sent_segments(rt, city)
    assert delivered >= 3  # the three confirmations at least
    assert totals(rows) == {
        "member.registered": (3, 3),
        "booking.confirmed": (3, 3),
        "hospital.active": (1, 1),
        "booking.cancelled": (1, 1),
        "notification.sent": (delivered, segments),
    }
    confirmed = [r for r in rows if r.meter == "booking.confirmed"]
    assert sorted(r.source_id for r in confirmed) == sorted(f"booking.confirmed:{b}" for b in refs)
    assert {tuple(sorted(r.dimensions.items())) for r in confirmed} == {(("channel", "app"), ("registration_type", "expert"))}
    cancelled = next(r for r in rows if r.meter == "booking.cancelled")
    assert cancelled.source_id == f"booking.cancelled:{refs[2]}" and cancelled.dimensions["reason"] == "行程有变"
    assert {r.dimensions["registered_by"] for r in rows if r.meter == "member.registered"} == {"self"}
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))

    # Every message runs again (a worker died after metering, before marking it done), then the
    # hooks hear every event once more straight from the plugin set: nothing new is counted.
    assert await rerun_all(rt, city) >= len(await metered_messages(rt, city))
    plugins = await rt.plugins.for_city(city)
    for msg in await metered_messages(rt, city):
        if msg.topic in ("booking.event", "member.event"):
            caller = plugins.hook.guahao_booking_event if msg.topic == "booking.event" else plugins.hook.guahao_member_event
            assert all(o.error is None for o in await call_robust(caller, city=city, event=msg.payload, rt=rt))
    assert [(r.seq, r.hash) for r in await ledger(rt, city)] == [(r.seq, r.hash) for r in rows]
    async with city_session(rt, city) as s:
        assert (await verify(s)).ok


class FakeOnlinePay(PaymentProvider):
    """An online provider that pays at once and refunds at once (reference ``rf-<payment>``)."""

    name = "fake_online_pay"
    verbose_name = "测试支付"
    online = True
    refund_supported = True

    async def prepare(self, booking, settings, secrets, *, return_url=None, description=""):
        return PaymentIntent(provider=self.name, booking_id=booking.id, amount_fen=booking.fee_fen,
                             reference=f"pi-{booking.id}")

    async def execute(self, booking, settings, secrets, *, data=None):
        return PaymentResult(self.name, booking.id, "paid", f"pi-{booking.id}", booking.fee_fen)

    async def refund(self, booking, amount_fen, settings, secrets):
        return RefundResult("refunded", amount_fen, f"rf-{booking.payment_ref}")


class FakePayPlugin:
    @hookimpl
    def guahao_payment_providers(self):
        return [FakeOnlinePay()]


async def _pay(rt, city, ref: str, fee: int) -> str:
    with use_city(city):
        async with rt.db.transaction() as s:
            return await payment_received(s, ref, provider=FakeOnlinePay.name, payment_ref=f"pi-{ref}", amount_fen=fee)


async def _refund_event(rt, city, ref: str, kind: str, refund_ref: str, amount: int, status: str) -> None:
    """A refund event as the Stripe plugin writes it when Stripe reports on a refund."""
    with use_city(city):
        async with rt.db.transaction() as s:
            booking = await s.scalar(select(Booking).where(Booking.id == ref))
            events.record(s, booking, kind, at=utcnow(), actor="payment:stripe",
                          data={"provider": "stripe", "payment_ref": booking.payment_ref, "refund_ref": refund_ref,
                                "amount_fen": amount, "status": status})
            await events.write(s)


async def test_payments_and_refunds_are_metered_in_fen_once(rt, city, client, register_plugin):
    register_plugin(FakePayPlugin(), "fake_online_pay")
    city = await enable(rt, city, "fake_online_pay")
    cat = await make_catalogue(rt, city, payment_mode="online")
    fee = cat.reg_type.fee_fen
    m1, m2 = await signup(client, rt, city), await signup(client, rt, city)
    refs = []
    # The second is two days ahead: cancellable whatever the hour (tomorrow's may be past its deadline).
    for m, cs in ((m1, cat.sessions[0]), (m2, cat.sessions[2])):
        r = await client.post(url(city, "/bookings"), json={"period_id": cat.periods[cs.id][0].id, "channel": "web"},
                              headers=m.headers)
        assert r.status_code == 201 and r.json()["status"] == "pending_payment", r.text
        refs.append(r.json()["id"])
    for ref in refs:
        assert await _pay(rt, city, ref, fee) == "confirmed"
        assert await _pay(rt, city, ref, fee) == "duplicate"  # the provider calls back twice
    r = await client.post(url(city, f"/bookings/{refs[1]}/cancel"), headers=m2.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    await drain_in_process(rt, city_id=city.id)  # the refund job runs, its event is metered
    with use_city(city):
        async with rt.db.transaction() as s:
            assert (await s.get(Booking, refs[1])).payment_status == "refunded"

    rows = await ledger(rt, city)
    got = totals(rows)
    assert got["fee.paid_fen"] == (2, 2 * fee)
    assert got["fee.refunded_fen"] == (1, fee)
    assert got["booking.confirmed"] == (2, 2) and got["booking.cancelled"] == (1, 1)
    paid = sorted(r.source_id for r in rows if r.meter == "fee.paid_fen")
    assert paid == sorted(f"fee.paid_fen:{b}:pi-{b}" for b in refs)
    refunded = next(r for r in rows if r.meter == "fee.refunded_fen")
    assert refunded.source_id == f"fee.refunded_fen:{refs[1]}:rf-pi-{refs[1]}"
    assert refunded.dimensions == {"provider": FakeOnlinePay.name}

    # The provider confirms the same refund later (Stripe's refund.updated): counted already.
    await _refund_event(rt, city, refs[1], "refund_succeeded", f"rf-pi-{refs[1]}", fee, "succeeded")
    await drain_in_process(rt, city_id=city.id)
    assert totals(await ledger(rt, city))["fee.refunded_fen"] == (1, fee)
    # ... then reports that it failed after all: the refunded amount is taken back, once.
    await _refund_event(rt, city, refs[1], "refund_failed", f"rf-pi-{refs[1]}", fee, "failed")
    await drain_in_process(rt, city_id=city.id)
    await rerun_all(rt, city)
    rows = await ledger(rt, city)
    assert totals(rows)["fee.refunded_fen"] == (2, 0)
    assert rows[-1].source_id == f"fee.refunded_fen:{refs[1]}:rf-pi-{refs[1]}:failed" and rows[-1].quantity == -fee
    async with city_session(rt, city) as s:
        assert (await verify(s)).ok


def test_refund_history_counts_each_refund_once_in_any_order():
    t = datetime(2026, 11, 3, tzinfo=UTC)
    pending = metering.RefundStep("refunded", t, {"provider": "stripe", "payment_ref": "pi", "refund_ref": "re_1",
                                                  "amount_fen": 500, "status": "pending"})
    succeeded = metering.RefundStep("refund_succeeded", t + timedelta(minutes=1),
                                    {"provider": "stripe", "payment_ref": "pi", "refund_ref": "re_1", "amount_fen": 500})
    failed = metering.RefundStep("refund_failed", t + timedelta(minutes=2),
                                 {"provider": "stripe", "payment_ref": "pi", "refund_ref": "re_1", "amount_fen": 500})
    assert metering.refund_usage("B1", [pending]) == []  # not refunded yet
    [done] = metering.refund_usage("B1", [pending, succeeded])
    assert (done.quantity, done.source_id, done.occurred_at) == (500, "fee.refunded_fen:B1:re_1", succeeded.at)
    both = metering.refund_usage("B1", [pending, succeeded, failed])
    assert [(u.quantity, u.source_id) for u in both] == [(500, "fee.refunded_fen:B1:re_1"),
                                                         (-500, "fee.refunded_fen:B1:re_1:failed")]
    assert metering.refund_usage("B1", [pending, failed]) == []  # a refund that never succeeded takes nothing back
    # Refunded in the provider's dashboard: no refund reference, the payment names it.
    dashboard = metering.RefundStep("refunded", t, {"provider": "stripe", "payment_ref": "pi", "refund_ref": "",
                                                    "amount_fen": 500, "status": "refunded"})
    assert [u.source_id for u in metering.refund_usage("B1", [dashboard])] == ["fee.refunded_fen:B1:pi"]


def test_a_declined_waitlist_offer_is_not_a_cancellation():
    class City:
        tz = UTC

    offer = {"kind": "cancelled", "booking_id": "B1", "channel": "web", "at": "2026-11-03T02:00:00+00:00",
             "data": {"from": "offered"}}
    assert metering.booking_usage(City, offer, "expert") == []
    held = {**offer, "data": {"reason": "有事"}}
    [u] = metering.booking_usage(City, held, "expert")
    assert (u.meter, u.source_id, u.dimensions["reason"]) == ("booking.cancelled", "booking.cancelled:B1", "有事")


async def test_reported_phone_minutes_land_in_the_ledger_once(rt, city):
    at = datetime(2026, 11, 3, 2, 30, tzinfo=UTC)
    for _ in range(2):  # the phone channel reports the same call twice (a retried webhook)
        with use_city(city):
            async with rt.db.transaction() as s:
                report_usage(s, meter="phone.minutes", quantity=7, source_id="call:CA123", occurred_at=at,
                             dimensions={"channel": "ivr"})
    await drain_in_process(rt, city_id=city.id)
    await rerun_all(rt, city)
    [row] = [r for r in await ledger(rt, city) if r.meter == "phone.minutes"]
    assert (row.quantity, row.source_id, row.dimensions, row.occurred_at) == (7, "call:CA123", {"channel": "ivr"}, at)
    assert {m.status for m in await metered_messages(rt, city)} == {"done"}


async def test_an_unknown_meter_is_refused_and_retried_not_counted(rt, city):
    with use_city(city):
        async with rt.db.transaction() as s:
            report_usage(s, meter="phone.hours", quantity=1, source_id="call:x")
    await drain_in_process(rt, city_id=city.id)
    [msg] = await metered_messages(rt, city)
    assert msg.status == "pending" and "unknown meter" in msg.last_error
    assert await ledger(rt, city) == []


async def test_duplicates_delivered_concurrently_count_once(rt, pg_only, client):
    """The same events reach the hooks several times at once, in three runtimes (as three worker
    processes, each with its own memory of counted ids), and the same outbox messages run in
    parallel runners, on a city whose chain does not exist yet (its first append races too)."""
    city = await make_city(rt, f"dup-{random.randrange(10**8)}")
    cat = await make_catalogue(rt, city, capacity=3)
    members = [await signup(client, rt, city) for _ in range(4)]
    for i, m in enumerate(members):
        cs = cat.sessions[i % len(cat.sessions)]
        r = await client.post(url(city, "/bookings"), json={"period_id": cat.periods[cs.id][0].id, "channel": "web"},
                              headers=m.headers)
        assert r.status_code == 201, r.text
    r = await client.post(url(city, f"/bookings/{r.json()['id']}/cancel"), headers=members[-1].headers)
    assert r.status_code == 200
    messages = await metered_messages(rt, city)
    booking_events = [m.payload for m in messages if m.topic == "booking.event"]
    member_events = [m.payload for m in messages if m.topic == "member.event"]
    others = [Runtime(rt.settings) for _ in range(2)]
    for other in others:
        await other.start()
    try:
        calls = [metering.meter_booking_event(city, e, runtime) for e in booking_events * 2 for runtime in (rt, *others)]
        calls += [metering.meter_member_event(city, e, runtime) for e in member_events * 2 for runtime in (rt, *others)]
        random.Random(11).shuffle(calls)
        added = await asyncio.gather(*calls)
    finally:
        for other in others:
            await other.stop()
    rows = await ledger(rt, city)
    assert sum(added) == len(rows)
    assert totals(rows) == {"booking.confirmed": (4, 4), "hospital.active": (1, 1), "booking.cancelled": (1, 1),
                            "member.registered": (4, 4)}

    # The outbox messages themselves, each run by three runners at the same time, twice over.
    for _ in range(2):
        batch.forget(rt)
        with use_city(city):
            async with rt.db.transaction() as s:
                await s.execute(update(OutboxMessage).where(OutboxMessage.topic.in_(METERED_TOPICS))
                                .values(status="pending", due_at=LONG_AGO, done_at=None))
        ids = [m.id for m in messages] * 3
        random.Random(5).shuffle(ids)
        await asyncio.gather(*(process_outbox_message(rt, i) for i in ids))
    again = await ledger(rt, city)
    assert [(r.seq, r.source_id, r.hash) for r in again] == [(r.seq, r.source_id, r.hash) for r in rows]
    async with city_session(rt, city) as s:
        v = await verify(s)
    assert v.ok and v.rows == len(rows)


async def test_one_event_meters_the_events_waiting_in_the_outbox_in_one_batch(rt, city, catalogue, client):
    members = [await signup(client, rt, city) for _ in range(3)]
    refs = []
    for m, cs in zip(members, catalogue.sessions, strict=False):
        r = await client.post(url(city, "/bookings"), json={"period_id": catalogue.periods[cs.id][0].id, "channel": "web"},
                              headers=m.headers)
        refs.append(r.json()["id"])
    confirmed = next(m.payload for m in await metered_messages(rt, city)
                     if m.topic == "booking.event" and m.payload["kind"] == "confirmed")
    batch.forget(rt)
    assert await metering.meter_booking_event(city, confirmed, rt) == 3 + 3 + 1  # registrations, bookings, the hospital
    assert {r.source_id for r in await ledger(rt, city) if r.meter == "booking.confirmed"} == {
        f"booking.confirmed:{b}" for b in refs
    }
    # The other events' own calls find their facts counted without touching the database.
    waiting = await metered_messages(rt, city)
    statements = []
    engine = rt.db.engine.sync_engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for msg in waiting:
            if msg.topic == "booking.event":
                assert await metering.meter_booking_event(city, msg.payload, rt) == 0
            elif msg.topic == "member.event":
                assert await metering.meter_member_event(city, msg.payload, rt) == 0
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []
    await drain_in_process(rt, city_id=city.id)
    async with city_session(rt, city) as s:
        assert (await verify(s)).ok
