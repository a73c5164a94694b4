"""Daily reconciliation (R6.4): a statement with each kind of mismatch injected finds each once,
re-running a day replaces the open ones and keeps resolved ones resolved, a re-query settles a
payment the platform missed, and a statement that cannot be had is a failed run."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from guahao.core.audit import Actor
from guahao.core.errors import DomainError
from guahao.core.jobs import drain_in_process
from guahao.core.models import AuditEntry
from guahao.core.payments.reconcile import StatementFailed, reconcile, resolve
from guahao.core.payments.reconcile.planning import TOPIC, plan_city
from guahao.core.payments.reconcile.requery import requery
from guahao.tenants.context import use_city
from tests.core.plugins.probes import outbox_rows

from .helpers import NAME, line, pay_city

STAFF = Actor(kind="staff", id=1, name="财务", role="city_admin")


def today(city):
    return datetime.now(city.tz).date()


async def _day_with_every_mismatch(pc):
    """Bookings and a statement with one mismatch of each kind (and two lines that match)."""
    fee = pc.fee
    ok, dearer, unlisted, unrecorded, refunded, refund_ok = [await pc.paid(i) for i in (0, 1, 2, 3, 4, 5)]
    await pc.refunded(refunded)  # settled here; the provider still has it processing
    await pc.refunded(refund_ok)
    held = await pc.held(6)  # paid at the provider; its callback never came
    with use_city(pc.city):
        pc.provider.lines = [
            line("payment", ok.payment_ref, fee, "paid", booking_id=ok.id),
            line("payment", dearer.payment_ref, fee + 100, "paid"),
            # `unlisted` is not on the statement
            line("payment", f"pi-{held.id}", fee, "paid", booking_id=held.id),
            line("payment", "pi-GHNOSUCHONE", 4200, "paid"),
            line("payment", unrecorded.payment_ref, fee, "paid"),
            line("payment", refunded.payment_ref, fee, "paid"),
            line("refund", refunded.payment_ref, fee, "pending", provider_ref="50300001"),
            line("payment", refund_ok.payment_ref, fee, "paid"),
            line("refund", refund_ok.payment_ref, fee, "refunded", provider_ref="50300002",
                 refund_ref=f"rf-{refund_ok.payment_ref}"),
            line("payment", "pi-closed-never-paid", fee, "closed"),  # no money moved: not a mismatch
        ]
    return {"ok": ok, "dearer": dearer, "unlisted": unlisted, "held": held, "refunded": refunded}


def _kinds(rows) -> Counter:
    return Counter((m.kind, m.line_kind, m.booking_id, m.our_ref) for m in rows)


async def test_each_kind_of_mismatch_is_found_once_with_both_sides(rt, city, register_plugin):
    pc = await pay_city(rt, city, register_plugin)
    b = await _day_with_every_mismatch(pc)
    fee = pc.fee
    with use_city(pc.city):
        report = await reconcile(rt, NAME, today(pc.city))
    expected = Counter({
        ("amount_differs", "payment", b["dearer"].id, b["dearer"].payment_ref): 1,
        ("missing_at_provider", "payment", b["unlisted"].id, b["unlisted"].payment_ref): 1,
        ("status_differs", "payment", b["held"].id, f"pi-{b['held'].id}"): 1,
        ("missing_on_platform", "payment", "", "pi-GHNOSUCHONE"): 1,
        ("status_differs", "refund", b["refunded"].id, b["refunded"].payment_ref): 1,
    })
    assert _kinds(report.mismatches) == expected
    assert _kinds(await pc.mismatches()) == expected
    by = {m.kind + m.line_kind: m for m in await pc.mismatches()}
    d = by["amount_differspayment"]
    assert (d.provider_amount_fen, d.platform_amount_fen, d.provider_status, d.platform_status) == (
        fee + 100, fee, "paid", "paid")
    u = by["missing_at_providerpayment"]
    assert (u.provider_amount_fen, u.platform_amount_fen, u.platform_status) == (None, fee, "paid")
    h = by["status_differspayment"]
    assert (h.provider_status, h.platform_status, h.provider_amount_fen, h.platform_amount_fen) == ("paid", "unpaid", fee, fee)
    n = by["missing_on_platformpayment"]
    assert (n.provider_amount_fen, n.platform_amount_fen, n.hospital_id) == (4200, None, None)
    r = by["status_differsrefund"]
    assert (r.provider_status, r.platform_status, r.provider_ref) == ("pending", "refunded", "50300001")
    assert {m.hospital_id for m in await pc.mismatches() if m.booking_id} == {pc.cat.hospital.id}

    [run] = await pc.runs()
    assert run.outcome == "mismatches" and run.mismatches == 5 and run.statement_lines == 10
    assert run.payments == 6 and run.refunds == 2
    assert run.platform_paid_fen == 6 * fee and run.platform_refunded_fen == 2 * fee
    assert run.provider_paid_fen == 6 * fee + 100 + 4200 and run.provider_refunded_fen == fee
    assert run.hospitals[str(pc.cat.hospital.id)]["platform_paid_fen"] == 6 * fee


async def test_rerunning_a_day_replaces_open_mismatches_and_keeps_resolved_ones(rt, city, register_plugin):
    pc = await pay_city(rt, city, register_plugin)
    b = await _day_with_every_mismatch(pc)
    day = today(pc.city)
    with use_city(pc.city):
        first = await reconcile(rt, NAME, day)
        again = await reconcile(rt, NAME, day)
    assert _kinds(again.mismatches) == _kinds(first.mismatches) and len(await pc.mismatches()) == 5
    [dearer] = await pc.mismatches(kind="amount_differs")
    with use_city(pc.city):
        async with rt.db.transaction() as s:
            with pytest.raises(DomainError) as err:
                await resolve(s, STAFF, dearer.id, "")
            assert err.value.code == "note_required"
            await resolve(s, STAFF, dearer.id, "支付平台已确认多收 1 元并退回")
        third = await reconcile(rt, NAME, day, trigger="again")
    assert len(third.mismatches) == 4 and all(m.kind != "amount_differs" for m in third.mismatches)
    [kept] = await pc.mismatches(kind="amount_differs")
    assert kept.id == dearer.id and kept.status == "resolved" and kept.note.startswith("支付平台")
    assert len(await pc.mismatches(status="open")) == 4
    [run] = await pc.runs()
    assert run.mismatches == 4 and run.trigger == "again"

    # The platform catches up (the missing payment is on tomorrow's statement, say): fixed lines, no mismatch.
    pc.provider.lines = [ln for ln in pc.provider.lines if ln.our_ref != "pi-GHNOSUCHONE"]
    with use_city(pc.city):
        fourth = await reconcile(rt, NAME, day)
    assert "missing_on_platform" not in {m.kind for m in fourth.mismatches} and len(fourth.mismatches) == 3
    assert b["ok"].id not in {m.booking_id for m in await pc.mismatches()}


async def test_a_requery_records_the_payment_the_platform_missed(rt, city, register_plugin):
    pc = await pay_city(rt, city, register_plugin)
    b = await _day_with_every_mismatch(pc)
    with use_city(pc.city):
        await reconcile(rt, NAME, today(pc.city))
    [held] = await pc.mismatches(kind="status_differs", line_kind="payment")
    with use_city(pc.city):
        answer = await requery(rt, STAFF, held.id)
    assert answer.result.status == "paid" and answer.outcome == "confirmed" and answer.resolved
    assert pc.provider.asked == [b["held"].id]
    booking = await pc.booking(b["held"].id)
    assert booking.payment_status == "paid" and booking.status == "confirmed"
    [held] = await pc.mismatches(id=held.id)
    assert held.status == "resolved" and "paid" in held.note
    # A line of no booking cannot be asked about; a hospital outside the scope sees nothing.
    [stray] = await pc.mismatches(kind="missing_on_platform")
    with use_city(pc.city):
        with pytest.raises(DomainError) as err:
            await requery(rt, STAFF, stray.id)
        assert err.value.code == "no_booking"
        with pytest.raises(DomainError) as err:
            await requery(rt, STAFF, held.id, hospital_id=pc.cat.hospital.id + 1000)
        assert err.value.status == 404
        async with rt.db.transaction() as s:
            [entry] = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "payment.requery"))).all()
    assert entry.target_id == str(held.id) and b["held"].id in entry.summary
    # The next run of the day finds the payment in order.
    with use_city(pc.city):
        report = await reconcile(rt, NAME, today(pc.city))
    assert b["held"].id not in {m.booking_id for m in report.mismatches}


async def test_a_statement_that_cannot_be_had_is_a_failed_run_and_providers_without_statements_are_refused(
        rt, city, register_plugin):
    pc = await pay_city(rt, city, register_plugin)
    pc.provider.fail = ConnectionError("statement server down")
    with use_city(pc.city):
        with pytest.raises(StatementFailed):
            await reconcile(rt, NAME, today(pc.city))
        with pytest.raises(DomainError) as err:
            await reconcile(rt, "pay_at_hospital", today(pc.city))
        assert err.value.code == "statement_unsupported" and err.value.status == 422
        with pytest.raises(DomainError) as err:
            await reconcile(rt, "nobody_pay", today(pc.city))
        assert err.value.status == 404
    [run] = await pc.runs()
    assert run.outcome == "failed" and "statement server down" in run.error
    pc.provider.fail = None
    with use_city(pc.city):
        await reconcile(rt, NAME, today(pc.city))
    [run] = await pc.runs()
    assert run.outcome == "ok" and run.error == ""


async def test_the_daily_job_asks_once_for_yesterday_and_runs_it(rt, city, register_plugin):
    pc = await pay_city(rt, city, register_plugin)
    early = datetime.now(pc.city.tz).replace(hour=8, minute=0)
    late = early.replace(hour=11)
    with use_city(pc.city):
        async with rt.db.transaction() as s:
            assert await plan_city(rt, s, early) == 0
        async with rt.db.transaction() as s:
            assert await plan_city(rt, s, late) == 1
        async with rt.db.transaction() as s:
            assert await plan_city(rt, s, late) == 0  # already asked
    [row] = await outbox_rows(rt, pc.city, topic=TOPIC)
    yesterday = (late - timedelta(days=1)).date()
    assert row.payload == {"provider": NAME, "day": yesterday.isoformat(), "trigger": "daily"}
    await drain_in_process(rt, city_id=pc.city.id)
    [run] = await pc.runs()
    assert (run.provider, run.day, run.outcome, run.trigger) == (NAME, yesterday, "ok", "daily")
    with use_city(pc.city):
        async with rt.db.transaction() as s:
            assert await plan_city(rt, s, late) == 0  # reconciled already
            assert await plan_city(rt, s, late.replace(hour=15)) == 0  # and nothing to look at again


async def test_a_daily_run_with_mismatches_is_run_once_more_in_the_afternoon(rt, city, register_plugin):
    pc = await pay_city(rt, city, register_plugin)
    morning = datetime.now(pc.city.tz).replace(hour=11, minute=0)
    yesterday = (morning - timedelta(days=1)).date()
    pc.provider.lines = [line("payment", "pi-GHSTRAY", 100, "paid")]
    with use_city(pc.city):
        await reconcile(rt, NAME, yesterday, trigger="daily")
        async with rt.db.transaction() as s:
            assert await plan_city(rt, s, morning) == 0
            assert await plan_city(rt, s, morning.replace(hour=15)) == 1
    [row] = await outbox_rows(rt, pc.city, topic=TOPIC)
    assert row.payload["trigger"] == "daily_recheck"
    await drain_in_process(rt, city_id=pc.city.id)
    [run] = await pc.runs()
    assert run.trigger == "daily_recheck" and run.outcome == "mismatches"
    with use_city(pc.city):
        async with rt.db.transaction() as s:
            assert await plan_city(rt, s, morning.replace(hour=16)) == 0  # once


async def test_a_requery_of_a_payment_after_its_hold_ran_out_records_it_and_refunds_it(
        rt, city, register_plugin):
    from guahao.core.models import Booking
    from guahao.tenants.clock import utcnow

    pc = await pay_city(rt, city, register_plugin)
    held = await pc.held(0)
    with use_city(pc.city):
        async with rt.db.transaction() as s:
            row = await s.get(Booking, held.id)
            row.hold_expires_at = utcnow() - timedelta(minutes=1)
    pc.provider.lines = [line("payment", f"pi-{held.id}", pc.fee, "paid", booking_id=held.id)]
    with use_city(pc.city):
        await reconcile(rt, NAME, today(pc.city))
        [m] = await pc.mismatches()
        answer = await requery(rt, STAFF, m.id)
    assert answer.outcome == "refunding" and answer.resolved  # recorded (paid late); the refund follows
    booking = await pc.booking(held.id)
    assert booking.status == "expired" and booking.payment_status == "paid"
    [refund] = await outbox_rows(rt, pc.city, topic="payment.refund")
    assert refund.payload["booking_id"] == held.id and refund.payload["reason"] == "late_payment"
    [m] = await pc.mismatches()
    assert m.status == "resolved" and "refunding" in m.note
    with use_city(pc.city):
        again = await reconcile(rt, NAME, today(pc.city))
    assert again.mismatches == []  # the late payment is on the platform now


async def test_two_runs_of_one_day_at_once_leave_one_run_and_no_duplicates(rt, city, register_plugin):
    import asyncio

    pc = await pay_city(rt, city, register_plugin)
    await _day_with_every_mismatch(pc)
    with use_city(pc.city):
        first, second = await asyncio.gather(reconcile(rt, NAME, today(pc.city)), reconcile(rt, NAME, today(pc.city)))
    assert len(first.mismatches) == len(second.mismatches) == 5
    assert len(await pc.runs()) == 1 and len(await pc.mismatches()) == 5
