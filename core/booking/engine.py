"""The booking engine (R3, R4): every change of a booking's state, inside the caller's transaction.

Each function takes a session already in a transaction with the city context set, and raises
``DomainError`` subclasses with stable codes (see ``core.booking.errors``). Lock order, to
keep concurrent changes from deadlocking: booking row → member row → pool row.

``reserve``, the hot path of the slot-release rush, lives in ``core.booking.reservation``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Booking, BookingStatus, PoolKind, SlotPool
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, require_city

from . import errors, events
from .credit import apply_no_show
from .inventory import mark_released, released_periods
from .reservation import reserve
from .waitlist import (
    accept_offer,
    expire_offer,
    join_waitlist,
    leave_waitlist,
    offer_units,
    retire_offer,
    sessions_with_waiters,
    unit_freed,
)

__all__ = [
    "reserve",
    "confirm_payment",
    "cancel",
    "cancel_deadline",
    "expire_hold",
    "check_in",
    "mark_no_shows",
    "join_waitlist",
    "leave_waitlist",
    "accept_offer",
    "expire_offer",
    "release_reserved_pools",
    "released_periods",
]


async def _lock_booking(s: AsyncSession, booking_id: str) -> Booking | None:
    return await s.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())


async def confirm_payment(
    s: AsyncSession, booking_id: str, *, provider: str, payment_ref: str, actor: str = "payment"
) -> Booking:
    """A held booking was paid: it becomes confirmed. A repeated callback changes nothing."""
    now = utcnow()
    booking = await _lock_booking(s, booking_id)
    if booking is None:
        raise errors.BookingNotFound()
    if booking.status == BookingStatus.confirmed and booking.payment_status == "paid":
        if booking.payment_ref == payment_ref and booking.payment_provider == provider:
            return booking
        raise errors.invalid_state(str(booking.status), "confirm_payment")
    if booking.status != BookingStatus.pending_payment:
        raise errors.invalid_state(str(booking.status), "confirm_payment")
    booking.status = BookingStatus.confirmed
    booking.payment_status = "paid"
    booking.payment_provider = provider[:60]
    booking.payment_ref = payment_ref[:120]
    booking.hold_expires_at = None
    booking.updated_at = now
    events.record(s, booking, "paid", at=now, actor=actor, data={"provider": provider, "payment_ref": payment_ref})
    events.record(s, booking, "confirmed", at=now, actor=actor)
    events.on_confirmed(s, booking, now=now)
    await events.write(s)
    return booking


def _settle_payment(s: AsyncSession, booking: Booking, *, reason: str, now: datetime) -> None:
    """A booking ended: give back what was paid online, or close a payment still open."""
    if booking.payment_status == "paid" and booking.payment_provider:
        events.payment_refund(s, booking, payment_ref=booking.payment_ref, reason=reason, now=now)
    elif booking.payment_status == "unpaid" and booking.payment_provider and booking.payment_ref:
        events.payment_void(s, booking, now=now)


def cancel_deadline(booking: Booking, city: CityContext) -> datetime:
    """Last instant to cancel (R3.4): ``cancel_time`` local, ``cancel_days_before`` days
    before the session date; with 0 days, until the period starts."""
    days = city.rules.cancel_days_before
    if days == 0:
        return booking.starts_at
    local = datetime.combine(booking.session_date - timedelta(days=days), city.rules.cancel_time, tzinfo=city.tz)
    return local.astimezone(UTC)


async def cancel(
    s: AsyncSession,
    booking_id: str,
    *,
    member_id: int | None = None,
    actor: str = "member",
    reason: str = "",
    enforce_cutoff: bool = True,
    notice: str = "booking_cancelled",
    notice_data: dict | None = None,
) -> Booking:
    """Cancel a booking and free its unit (to the first waiting member, else to the pool).

    ``member_id`` restricts the cancel to that member's own booking; staff pass
    ``enforce_cutoff=False`` to cancel after the cut-off. Cancelling twice is harmless.
    ``notice`` is the message kind the member gets (a hospital's schedule change tells them
    why with its own kind and ``notice_data``).
    """
    city = require_city()
    now = utcnow()
    booking = await _lock_booking(s, booking_id)
    if booking is None or (member_id is not None and booking.member_id != member_id):
        raise errors.BookingNotFound()
    if booking.status == BookingStatus.cancelled:
        return booking
    if booking.status == BookingStatus.offered:
        await retire_offer(s, booking, status=BookingStatus.cancelled, actor=actor, now=now)
        booking.cancel_reason = reason[:300]
        await events.write(s)
        return booking
    if booking.status not in (BookingStatus.pending_payment, BookingStatus.confirmed):
        raise errors.invalid_state(str(booking.status), "cancel")
    if enforce_cutoff and booking.status == BookingStatus.confirmed:
        deadline = cancel_deadline(booking, city)
        if now >= deadline:
            raise errors.cancel_too_late(deadline)
    was_confirmed = booking.status == BookingStatus.confirmed
    booking.status = BookingStatus.cancelled
    booking.cancel_reason = reason[:300]
    booking.hold_expires_at = None
    booking.updated_at = now
    events.record(s, booking, "cancelled", at=now, actor=actor, data={"reason": reason[:300]} if reason else None)
    events.notify(
        s, notice, member_id=booking.member_id, booking_id=booking.id, now=now,
        data={"reason": reason[:300], **(notice_data or {})},
    )
    if was_confirmed:
        events.his_push(s, booking, "cancel", now=now)
    _settle_payment(s, booking, reason="cancelled", now=now)
    await unit_freed(s, booking, now=now)
    await events.write(s)
    return booking


async def expire_hold(s: AsyncSession, booking_id: str) -> Booking | None:
    """End an unpaid hold that ran out (R3.5); its unit goes back. No-op unless due."""
    now = utcnow()
    booking = await _lock_booking(s, booking_id)
    if booking is None or booking.status != BookingStatus.pending_payment:
        return None
    if booking.hold_expires_at is None or booking.hold_expires_at > now:
        return None
    booking.status = BookingStatus.expired
    booking.updated_at = now
    events.record(s, booking, "expired", at=now, actor="system", data={"hold_expires_at": booking.hold_expires_at.isoformat()})
    events.notify(s, "booking_expired", member_id=booking.member_id, booking_id=booking.id, now=now)
    _settle_payment(s, booking, reason="expired", now=now)
    await unit_freed(s, booking, now=now)
    await events.write(s)
    return booking


async def check_in(s: AsyncSession, booking_id: str, *, at: datetime | None = None, actor: str = "his") -> Booking:
    """The hospital reports the patient arrived (取号, R4.1); late after start + grace (R4.2)."""
    city = require_city()
    now = utcnow()
    booking = await _lock_booking(s, booking_id)
    if booking is None:
        raise errors.BookingNotFound()
    if booking.status == BookingStatus.checked_in:
        return booking
    if booking.status != BookingStatus.confirmed:
        raise errors.invalid_state(str(booking.status), "check_in")
    at = at or now
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    booking.status = BookingStatus.checked_in
    booking.checked_in_at = at
    booking.late = at > booking.starts_at + timedelta(minutes=city.rules.late_grace_minutes)
    booking.updated_at = now
    events.record(s, booking, "checked_in", at=now, actor=actor, data={"at": at.isoformat(), "late": booking.late})
    events.on_checked_in(s, booking, now=now)
    await events.write(s)
    return booking


async def mark_no_shows(s: AsyncSession, *, now: datetime | None = None) -> list[str]:
    """Confirmed bookings whose period has ended unchecked-in become no-shows (R4.1), and
    each no-show climbs the member's credit ladder (R4.3). Returns the booking ids."""
    now = now or utcnow()
    due = (
        await s.scalars(
            select(Booking)
            .where(Booking.status == BookingStatus.confirmed, Booking.ends_at <= now)
            .order_by(Booking.ends_at, Booking.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    marked: list[str] = []
    for booking in due:
        booking.status = BookingStatus.no_show
        booking.updated_at = now
        events.record(s, booking, "no_show", at=now, actor="system")
        events.his_push(s, booking, "no_show", now=now)  # the platform decided: the HIS hears of it
        await events.write(s)
        await apply_no_show(s, booking, now=now)
        marked.append(booking.id)
    await events.write(s)
    return marked


async def release_reserved_pools(
    s: AsyncSession, *, now: datetime | None = None, pool_ids: list[int] | None = None
) -> int:
    """Move unused units of reserved pools whose release time has come into the public pool
    of the same period (R2.4); waiting members get offers first. Returns units moved.

    Set-based: a release time shared by thousands of pools (a day's reserved units all at
    once) costs a few statements, not a few per pool. Only sessions that have members waiting
    go through the per-period offer step.

    ``pool_ids`` limits the release to those pools (staff releasing a pool now)."""
    now = now or utcnow()
    stmt = select(SlotPool.id, SlotPool.period_id, SlotPool.session_id, SlotPool.capacity, SlotPool.booked).where(
        SlotPool.pool != PoolKind.public,
        SlotPool.release_to_public_at.is_not(None),
        SlotPool.release_to_public_at <= now,
    )
    if pool_ids is not None:
        stmt = stmt.where(SlotPool.id.in_(pool_ids))
    due = (await s.execute(stmt.order_by(SlotPool.id).with_for_update(skip_locked=True))).all()
    if not due:
        return 0
    free: dict[int, int] = {}  # period → units to add to its public pool
    session_of: dict[int, int] = {}
    for row in due:
        session_of[row.period_id] = row.session_id
        if row.capacity > row.booked:
            free[row.period_id] = free.get(row.period_id, 0) + row.capacity - row.booked
    for ids in _chunks([row.id for row in due]):
        await s.execute(
            update(SlotPool)
            .where(SlotPool.id.in_(ids))
            .values(capacity=SlotPool.booked, release_to_public_at=None)
            .execution_options(synchronize_session=False)
        )
    public: dict[int, int] = {}  # period → its public pool
    for ids in _chunks(list(free)):
        rows = await s.execute(
            select(SlotPool.period_id, SlotPool.id).where(SlotPool.period_id.in_(ids), SlotPool.pool == PoolKind.public)
        )
        public.update({period_id: pool_id for period_id, pool_id in rows.all()})
    grow = [{"b_pool": public[p], "b_units": n} for p, n in free.items() if p in public]
    if grow:
        t = SlotPool.__table__  # Core executemany: one statement, many rows; scoped by hand
        await s.execute(
            update(t)
            .where(t.c.city_id == require_city().id, t.c.id == bindparam("b_pool"))
            .values(capacity=t.c.capacity + bindparam("b_units")),
            grow,
        )
    for p, n in free.items():
        if p not in public:
            pool = SlotPool(period_id=p, session_id=session_of[p], pool=PoolKind.public, capacity=n)
            s.add(pool)
            await s.flush()
            public[p] = pool.id
    for p in free:
        mark_released(s, p)
    waiting = await sessions_with_waiters(s, {session_of[p] for p in free})
    for p, n in free.items():
        if session_of[p] in waiting:
            await offer_units(s, session_id=session_of[p], period_id=p, pool_id=public[p], now=now, limit=n)
    await events.write(s)
    return sum(free.values())


def _chunks(ids: list[int], size: int = 500) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]
