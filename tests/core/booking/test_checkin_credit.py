"""Check-in and late arrival (R4.1–R4.2), no-shows and the credit ladder (R4.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from guahao.core.booking import engine, service
from guahao.core.booking.credit import credit_status
from guahao.core.errors import DomainError
from guahao.core.models import CreditEvent, Member, OutboxMessage
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.factories import make_catalogue, make_city

from .helpers import booking, event_kinds, make_member, reserve, run


async def test_check_in_on_time_and_late(rt, city, catalogue):
    cs = catalogue.sessions[0]
    first, second = catalogue.periods[cs.id]
    a, b = await make_member(rt, city), await make_member(rt, city)
    on_time = await reserve(rt, city, a, first.id)
    late = await reserve(rt, city, b, second.id)
    grace = timedelta(minutes=city.rules.late_grace_minutes)
    done = await run(rt, city, engine.check_in, on_time.id, at=first.starts_at + grace)
    assert done.status == "checked_in" and done.late is False and done.checked_in_at == first.starts_at + grace
    done = await run(rt, city, engine.check_in, late.id, at=second.starts_at + grace + timedelta(seconds=1))
    assert done.late is True
    assert await event_kinds(rt, city, late.id) == ["created", "confirmed", "checked_in"]
    # The HIS reports twice: the first report stands.
    again = await run(rt, city, engine.check_in, late.id, at=second.starts_at)
    assert again.late is True and await event_kinds(rt, city, late.id) == ["created", "confirmed", "checked_in"]


async def test_check_in_uses_the_clock_by_default(rt, city, catalogue):
    period = catalogue.periods[catalogue.sessions[0].id][0]
    b = await reserve(rt, city, await make_member(rt, city), period.id)
    with frozen(period.starts_at + timedelta(hours=1)):
        done = await run(rt, city, engine.check_in, b.id)
    assert done.late is True and done.checked_in_at == period.starts_at + timedelta(hours=1)


async def test_only_confirmed_bookings_check_in(rt, city):
    cat = await make_catalogue(rt, city, payment_mode="online")
    b = await reserve(rt, city, await make_member(rt, city), cat.periods[cat.sessions[0].id][0].id)
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.check_in, b.id)
    assert err.value.code == "invalid_state" and err.value.details["status"] == "pending_payment"
    with pytest.raises(DomainError) as err:
        await run(rt, city, engine.check_in, "GHAAAAAAAAAAAAAAAA")
    assert err.value.code == "not_found"


async def _city(rt, prefix, **rules):
    return await make_city(rt, prefix + utcnow().strftime("%H%M%S%f"), max_active_bookings=5, **rules)


async def _suspension(rt, city, member_id) -> tuple[datetime | None, str]:
    with use_city(city):
        async with rt.db.transaction() as s:
            m = await s.get(Member, member_id)
            return m.suspended_until, m.suspension_reason


async def _last_penalty_days(rt, city, member_id) -> int:
    with use_city(city):
        async with rt.db.transaction() as s:
            detail = await s.scalar(
                select(CreditEvent.detail)
                .where(CreditEvent.member_id == member_id, CreditEvent.kind == "suspended")
                .order_by(CreditEvent.id.desc())
                .limit(1)
            )
    return detail["days"]


async def test_no_show_ladder_30_60_90_within_a_calendar_year(rt):
    city = await _city(rt, "ns-")
    with frozen(datetime(2031, 3, 1, 2, 0, tzinfo=UTC)):
        cat = await make_catalogue(rt, city, days_ahead=4, periods=1, capacity=1)
    member = await make_member(rt, city)
    doctor_sessions = [cs for cs in cat.sessions if cs.doctor_id == cat.doctor.id]
    with frozen(datetime(2031, 3, 1, 2, 0, tzinfo=UTC)):
        made = [await reserve(rt, city, member, cat.periods[cs.id][0].id) for cs in doctor_sessions]
    expected = [30, 60, 90, 90]
    for b, days in zip(made, expected, strict=False):
        sweep_at = b.ends_at + timedelta(minutes=5)
        with frozen(sweep_at):
            marked = await run(rt, city, engine.mark_no_shows)
        assert marked == [b.id]
        until, reason = await _suspension(rt, city, member)
        assert until == sweep_at + timedelta(days=days), days
        assert f"暂停{days}天" in reason and "2031年内" in reason and "第一人民医院" in reason
        assert (await booking(rt, city, b.id)).status == "no_show"
        assert (await event_kinds(rt, city, b.id))[-1] == "no_show"
    with use_city(city), frozen(made[-1].ends_at + timedelta(minutes=6)):
        async with rt.db.transaction() as s:
            status = await credit_status(s, member)
            kinds = (await s.scalars(select(CreditEvent.kind).where(CreditEvent.member_id == member))).all()
            notes = [
                m.payload
                for m in (await s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify"))).all()
                if m.payload["kind"] == "credit_suspended"
            ]
    assert status.status == "suspended" and status.no_shows_in_window == 4
    assert status.window == "calendar_year:2031" and status.next_penalty_days == 90
    assert status.reason == reason
    assert kinds.count("no_show") == 4 and kinds.count("suspended") == 4
    assert len(notes) == 4 and notes[0]["data"]["reason"] and notes[0]["member_id"] == member


async def test_the_count_starts_again_in_a_new_year(rt):
    city = await _city(rt, "ny-")
    start = datetime(2031, 12, 29, 2, 0, tzinfo=UTC)  # local 10:00 on 29 December
    with frozen(start):
        cat = await make_catalogue(rt, city, days_ahead=3, periods=1, capacity=1)
    member = await make_member(rt, city)
    sessions = sorted((cs for cs in cat.sessions if cs.doctor_id == cat.doctor.id), key=lambda cs: cs.date)
    assert [cs.date.isoformat() for cs in sessions] == ["2031-12-30", "2031-12-31", "2032-01-01"]
    with frozen(start):
        made = [await reserve(rt, city, member, cat.periods[cs.id][0].id) for cs in sessions]
    got = []
    for b in made:
        at = b.ends_at + timedelta(minutes=1)
        with frozen(at):
            await run(rt, city, engine.mark_no_shows)
        got.append(await _last_penalty_days(rt, city, member))
    assert got == [30, 60, 30]
    # A shorter new penalty never shortens a running suspension.
    until, reason = await _suspension(rt, city, member)
    assert until == made[1].ends_at + timedelta(minutes=1, days=60)
    assert "2032年内第1次爽约" in reason
    with use_city(city), frozen(made[-1].ends_at + timedelta(minutes=2)):
        async with rt.db.transaction() as s:
            status = await credit_status(s, member)
    assert status.window == "calendar_year:2032" and status.no_shows_in_window == 1
    assert status.next_penalty_days == 60


async def test_a_rolling_window_and_a_custom_ladder(rt):
    city = await _city(rt, "rw-", credit_window_days=1, credit_ladder_days=[0, 7])
    cat = await make_catalogue(rt, city, days_ahead=3, periods=1, capacity=1)
    member = await make_member(rt, city)
    sessions = sorted((cs for cs in cat.sessions if cs.doctor_id == cat.doctor.id), key=lambda cs: cs.date)
    made = [await reserve(rt, city, member, cat.periods[cs.id][0].id) for cs in sessions]
    # 1st no-show: step 0 days → recorded, no suspension.
    with frozen(made[0].ends_at + timedelta(minutes=1)):
        await run(rt, city, engine.mark_no_shows)
    assert (await _suspension(rt, city, member))[0] is None
    # The next no-show is exactly a day later: the first is no longer in the last 1 day.
    at = made[1].ends_at + timedelta(minutes=1)
    with frozen(at):
        await run(rt, city, engine.mark_no_shows)
    assert (await _suspension(rt, city, member))[0] is None
    with use_city(city), frozen(at):
        async with rt.db.transaction() as s:
            status = await credit_status(s, member)
    assert status.window == "rolling_days:1" and status.status == "good" and status.next_penalty_days == 7
    # Two no-shows inside one day: the second step (7 days) applies.
    third = made[2]
    with use_city(city):
        async with rt.db.transaction() as s:
            from guahao.core.models import Booking

            second = await s.get(Booking, made[1].id)
            second.ends_at = third.ends_at - timedelta(hours=1)
    at = third.ends_at + timedelta(minutes=1)
    with frozen(at):
        await run(rt, city, engine.mark_no_shows)
    assert (await _suspension(rt, city, member))[0] == at + timedelta(days=7)


async def test_the_sweep_leaves_checked_in_future_and_other_cities_alone(rt, city, catalogue):
    cs = catalogue.sessions[0]
    first, second = catalogue.periods[cs.id]
    a, b, c = [await make_member(rt, city) for _ in range(3)]
    came = await reserve(rt, city, a, first.id)
    missed = await reserve(rt, city, b, first.id)
    later = await reserve(rt, city, c, catalogue.periods[catalogue.sessions[2].id][0].id)
    await run(rt, city, engine.check_in, came.id)
    other = await make_city(rt, city.slug + "-n")
    with frozen(first.ends_at):
        assert await run(rt, other, engine.mark_no_shows) == []
        assert await run(rt, city, engine.mark_no_shows) == [missed.id]
        assert await run(rt, city, engine.mark_no_shows) == []
    assert (await booking(rt, city, came.id)).status == "checked_in"
    assert (await booking(rt, city, later.id)).status == "confirmed"


async def test_credit_of_a_good_member_through_the_service(rt, city, catalogue):
    member = await make_member(rt, city)
    with use_city(city):
        body = await service.credit(rt, member_id=member)
    assert body["status"] == "good" and body["suspended_until"] is None
    assert body["no_shows_in_window"] == 0 and body["next_penalty_days"] == 30
    assert body["window"].startswith("calendar_year:")
    with use_city(city), pytest.raises(DomainError) as err:
        await service.credit(rt, member_id=10**9)
    assert err.value.code == "not_found"
