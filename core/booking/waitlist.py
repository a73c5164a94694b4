"""The waitlist (候补, R3.8): members queue for a full session; a freed public unit becomes an
``offered`` booking for the first of them, who accepts it or lets it pass to the next in line.

An offered booking holds its unit (it counts in ``booked``) until accepted, declined or expired,
so nobody can take it from under the member who was offered it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import (
    HOLDING,
    Booking,
    BookingStatus,
    ClinicSession,
    Hospital,
    Member,
    PaymentMode,
    Period,
    PoolKind,
    SlotPool,
    WaitlistEntry,
    WaitlistStatus,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from . import errors, events, rules
from .inventory import give_back_unit, take_unit, unit_booking

_OPEN_ENTRY = (WaitlistStatus.waiting, WaitlistStatus.offered)


async def join_waitlist(s: AsyncSession, *, member_id: int, session_id: int) -> WaitlistEntry:
    """Queue for a session whose every bookable public unit is taken."""
    city = require_city()
    now = utcnow()
    found = (
        await s.execute(
            select(ClinicSession, Hospital).join(Hospital, Hospital.id == ClinicSession.hospital_id).where(
                ClinicSession.id == session_id
            )
        )
    ).first()
    if found is None:
        raise errors.BookingNotFound("出诊")
    cs, hospital = found
    rules.check_session_open(cs, hospital_active=hospital.active)
    if now < cs.release_at:
        raise errors.not_released(cs.release_at)
    cutoff = timedelta(minutes=city.rules.booking_cutoff_minutes)
    capacity, booked, periods = (
        await s.execute(
            select(func.coalesce(func.sum(SlotPool.capacity), 0), func.coalesce(func.sum(SlotPool.booked), 0), func.count())
            .join(Period, Period.id == SlotPool.period_id)
            .where(SlotPool.session_id == session_id, SlotPool.pool == PoolKind.public, Period.starts_at > now + cutoff)
        )
    ).one()
    if periods == 0:
        raise errors.past_cutoff(cs.ends_at - cutoff)
    if booked < capacity:
        raise errors.waitlist_not_full(session_id)
    state = await rules.lock_member(s, member_id, now=now, session_id=session_id)
    member = state.member
    if member.suspended_until is not None and member.suspended_until > now:
        raise errors.credit_suspended(member.suspended_until, member.suspension_reason, city.tz)
    if state.holds_session:
        raise errors.duplicate_session(session_id)
    waiting = await s.scalar(
        select(WaitlistEntry.id).where(
            WaitlistEntry.member_id == member_id,
            WaitlistEntry.session_id == session_id,
            WaitlistEntry.status.in_(_OPEN_ENTRY),
        )
    )
    if waiting is not None:
        raise errors.already_waiting(session_id)
    entry = WaitlistEntry(member_id=member_id, session_id=session_id, status=WaitlistStatus.waiting, created_at=now)
    s.add(entry)
    try:
        await s.flush()
    except IntegrityError:
        raise errors.already_waiting(session_id) from None
    return entry


async def leave_waitlist(s: AsyncSession, *, member_id: int, entry_id: int) -> WaitlistEntry:
    """Leave the queue; leaving with an offer in hand declines the offer."""
    find = select(WaitlistEntry).where(WaitlistEntry.id == entry_id)
    entry = await s.scalar(find)
    if entry is None or entry.member_id != member_id:
        raise errors.BookingNotFound("候补记录")
    booking = None
    if entry.offered_booking_id:  # lock order: the booking before the entry
        booking = await s.scalar(select(Booking).where(Booking.id == entry.offered_booking_id).with_for_update())
    entry = await s.scalar(find.with_for_update().execution_options(populate_existing=True))
    if entry.status == WaitlistStatus.waiting:
        entry.status = WaitlistStatus.cancelled
    elif entry.status == WaitlistStatus.offered and booking is not None:
        if booking.status == BookingStatus.offered:
            await retire_offer(s, booking, status=BookingStatus.cancelled, actor="member", now=utcnow())
        entry.status = WaitlistStatus.cancelled
    else:
        raise errors.invalid_state(str(entry.status), "leave_waitlist")
    await events.write(s)
    return entry


async def accept_offer(s: AsyncSession, booking_id: str, *, member_id: int) -> Booking:
    """Take up an offered unit: the member's rules are checked again as for a new booking."""
    city = require_city()
    now = utcnow()
    booking = await s.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())
    if booking is None or booking.member_id != member_id:
        raise errors.BookingNotFound()
    if booking.status == BookingStatus.expired:
        raise errors.offer_expired(booking.id, booking.hold_expires_at)
    if booking.status != BookingStatus.offered:
        raise errors.invalid_state(str(booking.status), "accept_offer")
    if booking.hold_expires_at is not None and booking.hold_expires_at <= now:
        raise errors.offer_expired(booking.id, booking.hold_expires_at)
    found = (
        await s.execute(
            select(ClinicSession, Period, Hospital)
            .join(Period, Period.session_id == ClinicSession.id)
            .join(Hospital, Hospital.id == ClinicSession.hospital_id)
            .where(Period.id == booking.period_id)
        )
    ).one()
    cs, period, hospital = found
    rules.check_session_open(cs, hospital_active=hospital.active)
    closes = rules.booking_closes_at(period, city.rules)
    if now >= closes:
        raise errors.offer_expired(booking.id, closes)
    state = await rules.lock_member(s, member_id, now=now)
    rules.check_member(state, city, now, session_id=None)
    entry = await s.scalar(select(WaitlistEntry).where(WaitlistEntry.offered_booking_id == booking.id))
    if entry is not None:
        entry.status = WaitlistStatus.accepted
    booking.updated_at = now
    if hospital.payment_mode == PaymentMode.online:
        booking.status = BookingStatus.pending_payment
        booking.payment_status = "unpaid"
        booking.hold_expires_at = now + timedelta(minutes=city.rules.hold_minutes)
        events.record(s, booking, "held", at=now, actor="member", data={"from": "offered"})
        events.on_held(s, booking, now=now)
    else:
        booking.status = BookingStatus.confirmed
        booking.hold_expires_at = None
        events.record(s, booking, "confirmed", at=now, actor="member", data={"from": "offered"})
        events.on_confirmed(s, booking, now=now)
    await events.write(s)
    return booking


async def expire_offer(s: AsyncSession, booking_id: str) -> Booking | None:
    """End an offer nobody accepted in time; the unit passes on. No-op unless due."""
    now = utcnow()
    booking = await s.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())
    if booking is None or booking.status != BookingStatus.offered:
        return None
    if booking.hold_expires_at is not None and booking.hold_expires_at > now:
        return None
    await retire_offer(s, booking, status=BookingStatus.expired, actor="system", now=now)
    await events.write(s)
    return booking


async def retire_offer(s: AsyncSession, booking: Booking, *, status: BookingStatus, actor: str, now: datetime) -> None:
    """An offered booking ends unaccepted (declined or expired): close it, pass the unit on."""
    booking.status = status
    booking.updated_at = now
    entry = await s.scalar(select(WaitlistEntry).where(WaitlistEntry.offered_booking_id == booking.id))
    if entry is not None and entry.status == WaitlistStatus.offered:
        entry.status = WaitlistStatus.expired if status == BookingStatus.expired else WaitlistStatus.cancelled
    events.record(s, booking, str(status), at=now, actor=actor, data={"from": "offered"})
    await unit_freed(s, booking, now=now)


async def unit_freed(s: AsyncSession, booking: Booking, *, now: datetime) -> None:
    """``booking`` no longer holds its unit: give it back, then offer it to the waitlist."""
    await give_back_unit(s, booking.pool_id, booking.period_id)
    kind = await s.scalar(select(SlotPool.pool).where(SlotPool.id == booking.pool_id))
    if kind == PoolKind.public:
        await offer_units(s, session_id=booking.session_id, period_id=booking.period_id, pool_id=booking.pool_id, now=now)


async def sessions_with_waiters(s: AsyncSession, session_ids: set[int]) -> set[int]:
    """Those of ``session_ids`` that have a member waiting (most have none)."""
    found: set[int] = set()
    ids = sorted(session_ids)
    for i in range(0, len(ids), 500):
        rows = await s.scalars(
            select(WaitlistEntry.session_id)
            .where(WaitlistEntry.session_id.in_(ids[i:i + 500]), WaitlistEntry.status == WaitlistStatus.waiting)
            .distinct()
        )
        found.update(rows.all())
    return found


async def offer_units(
    s: AsyncSession, *, session_id: int, period_id: int, pool_id: int, now: datetime, limit: int = 1
) -> list[Booking]:
    """Turn up to ``limit`` free units of a public pool into offers for the first waiters.

    Waiters who meanwhile hold a booking in the session, or are suspended, leave the queue.
    No offer is made when the period closes before the member could act on it.
    """
    city = require_city()
    found = (
        await s.execute(
            select(ClinicSession, Period).join(Period, Period.session_id == ClinicSession.id).where(Period.id == period_id)
        )
    ).first()
    if found is None:
        return []
    cs, period = found
    if cs.status != "open":
        return []
    deadline = min(now + timedelta(minutes=city.rules.waitlist_offer_minutes), rules.booking_closes_at(period, city.rules))
    if deadline <= now:
        return []
    offers: list[Booking] = []
    holds = exists().where(
        and_(Booking.member_id == WaitlistEntry.member_id, Booking.session_id == session_id, Booking.status.in_(HOLDING))
    )
    while len(offers) < limit:
        row = (
            await s.execute(
                select(WaitlistEntry, Member.suspended_until, holds)
                .join(Member, Member.id == WaitlistEntry.member_id)
                .where(WaitlistEntry.session_id == session_id, WaitlistEntry.status == WaitlistStatus.waiting)
                .order_by(WaitlistEntry.id)
                .limit(1)
                .with_for_update(of=WaitlistEntry, skip_locked=True)
            )
        ).first()
        if row is None:
            break
        entry, suspended_until, already_holds = row
        if already_holds or (suspended_until is not None and suspended_until > now):
            entry.status = WaitlistStatus.cancelled
            await s.flush()
            continue
        if not await take_unit(s, pool_id):
            break
        booking = unit_booking(
            cs,
            period,
            pool_id=pool_id,
            member_id=entry.member_id,
            channel="waitlist",
            status=BookingStatus.offered,
            now=now,
            created_by="waitlist",
            hold_expires_at=deadline,
        )
        s.add(booking)
        entry.status = WaitlistStatus.offered
        entry.offered_booking_id = booking.id
        entry.offer_expires_at = deadline
        events.record(s, booking, "offered", at=now, actor="system", data={"waitlist_entry_id": entry.id})
        events.notify(
            s,
            "waitlist_offer",
            member_id=booking.member_id,
            booking_id=booking.id,
            now=now,
            data={"offer_expires_at": deadline.isoformat(), "session_id": session_id},
        )
        events.emit_offer_expiry(s, booking, now=now)
        await events.write(s)
        offers.append(booking)
    return offers
