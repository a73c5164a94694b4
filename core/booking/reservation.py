"""``reserve``: the hot path of the slot-release rush (R3, R3.6).

Round trips, in order: one statement finds the period with everything the rules need and
locks the member row; a second counts the member's bookings (after the lock, so it sees what
a competitor just committed); the booking, its events, outbox rows and idempotency record are
inserted and the unit is taken last with one conditional UPDATE, so the contended pool row
stays locked only from that UPDATE to the commit (on PostgreSQL all of that is one statement,
see ``statements``). A refused UPDATE rolls the inserts back with the transaction.

The statements are built once and run without the ORM (``statements``: Core statements, or
the same SQL on the asyncpg connection on PostgreSQL); the ORM's per-statement work would
cost more than the database does. They name the city themselves, since the ORM wall only
scopes ORM statements; row-level security still applies on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from guahao.core import idempotency
from guahao.core.catalogue.places import visit_place
from guahao.core.models import (
    Booking,
    BookingStatus,
    Campus,
    ClinicSession,
    Department,
    Doctor,
    Hospital,
    Member,
    PaymentMode,
    Period,
    PoolKind,
    SlotPool,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, require_city

from . import errors, events, rules
from .inventory import unit_booking
from .refs import RefTaken
from .statements import DuplicateBooking, HotPathStatements, statements_for
from .views import ViewParts, remember_parts

_P, _CS, _POOL, _H, _D, _DOC, _M, _C = (
    m.__table__ for m in (Period, ClinicSession, SlotPool, Hospital, Department, Doctor, Member, Campus)
)
_FIND = (
    select(
        *(c.label(f"p__{c.name}") for c in _P.c),
        *(c.label(f"cs__{c.name}") for c in _CS.c),
        *(c.label(f"m__{c.name}") for c in _M.c),
        _POOL.c.id.label("pool_id"),
        _POOL.c.booked,
        _POOL.c.capacity,
        _H.c.name.label("hospital_name"),
        _H.c.payment_mode,
        _H.c.active.label("hospital_active"),
        _D.c.name.label("department_name"),
        _DOC.c.name.label("doctor_name"),
        _C.c.id.label("campus_id"),
        _C.c.name.label("campus_name"),
        _C.c.address.label("campus_address"),
        _H.c.address.label("hospital_address"),
    )
    .select_from(
        _P.join(_CS, _CS.c.id == _P.c.session_id)
        .join(_POOL, _POOL.c.period_id == _P.c.id)
        .join(_H, _H.c.id == _CS.c.hospital_id)
        .join(_D, _D.c.id == _CS.c.department_id)
        .join(_DOC, _DOC.c.id == _CS.c.doctor_id)
        .outerjoin(_C, (_C.c.id == _CS.c.campus_id) & (_C.c.city_id == bindparam("city_id")))
        .join(_M, _M.c.id == bindparam("member_id"))
    )
    .where(
        _P.c.id == bindparam("period_id"),
        _P.c.city_id == bindparam("city_id"),
        _M.c.city_id == bindparam("city_id"),
        _POOL.c.pool == bindparam("pool"),
    )
    .with_for_update(of=_M)
)
_BOOKING_COLUMNS = tuple(c.name for c in Booking.__table__.columns)


def _part(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    n = len(prefix)
    return {k[n:]: v for k, v in row.items() if k.startswith(prefix)}


_ROWS = frozenset({"member", "clinic_session", "period"})


def _wanted(extra_checks: Callable[..., Any] | None) -> frozenset[str] | None:
    """What the plugin rules will read: ``None`` for no rule at all, else the row arguments
    some implementation takes (copies of the rows are made only for those; a plain callable
    gets them all)."""
    if extra_checks is None:
        return None
    impls = getattr(extra_checks, "get_hookimpls", None)
    if impls is None:
        return _ROWS
    found = impls()
    if not found:
        return None
    return frozenset(a for impl in found for a in impl.argnames if a in _ROWS)


async def reserve(
    s: AsyncSession,
    *,
    member_id: int,
    period_id: int,
    channel: str,
    pool: str = "public",
    actor: str = "member",
    extra_checks: Callable[..., Any] | None = None,
    before_take: Callable[[Booking], Awaitable[None]] | None = None,
) -> Booking:
    """Book one unit of ``pool`` in a period for a member: confirmed, or held for payment.

    ``before_take`` runs once the booking is built, before its rows are written and the unit
    is taken (e.g. to store the idempotent response: ``idempotency.remember`` rows it makes
    are written with the booking's), so the contended pool row stays locked for as short a
    time as possible: from the conditional UPDATE to the commit.
    """
    city = require_city()
    now = utcnow()
    rules.check_channel(channel)
    kind = rules.check_pool(pool, channel)
    hot = statements_for(s)
    found = await _find_and_lock(s, hot, member_id=member_id, period_id=period_id, kind=kind, city_id=city.id)
    period, cs = await _check_rules(
        s, found, period_id=period_id, kind=kind, channel=channel, extra_checks=extra_checks, city=city, now=now
    )
    booking = _new_booking(
        s, found, period, cs, member_id=member_id, kind=kind, channel=channel, actor=actor, city=city, now=now
    )
    await _write_and_take(
        s, hot, booking, pool_id=found["pool_id"], session_id=cs.id, period_id=period_id, before_take=before_take
    )
    return booking


async def _find_and_lock(
    s: AsyncSession, hot: HotPathStatements, *, member_id: int, period_id: int, kind: PoolKind, city_id: int
) -> Mapping[str, Any]:
    """The period's row with its session, pool, hospital, department, doctor, campus and
    member (``_FIND``), locking the member row. No row: the period or the member is unknown
    (``not_found``), or the period keeps no units of this pool (``slot_full``)."""
    params = {"member_id": member_id, "period_id": period_id, "pool": str(kind), "city_id": city_id}
    found = await hot.fetch_one(s, _FIND, params)
    if found is None:
        if await s.scalar(select(Period.id).where(Period.id == period_id)) is None:
            raise errors.BookingNotFound("时段")
        if await s.scalar(select(Member.id).where(Member.id == member_id)) is None:
            raise errors.BookingNotFound("会员")
        raise errors.slot_full(period_id)  # the period keeps no units of this pool
    return found


async def _check_rules(
    s: AsyncSession,
    found: Mapping[str, Any],
    *,
    period_id: int,
    kind: PoolKind,
    channel: str,
    extra_checks: Callable[..., Any] | None,
    city: CityContext,
    now: datetime,
) -> tuple[SimpleNamespace, SimpleNamespace]:
    """Check the booking rules on the found row: session open, booking window, a unit left,
    the member's bookings (counted after the lock) and any plugin rules; returns the period
    and its session as plain objects."""
    period = SimpleNamespace(**_part(found, "p__"))
    cs = SimpleNamespace(**_part(found, "cs__"))
    member = SimpleNamespace(**_part(found, "m__"))
    rules.check_session_open(cs, hospital_active=found["hospital_active"])
    rules.check_window(cs, period, kind, city.rules, now)
    if found["booked"] >= found["capacity"]:
        raise errors.slot_full(period_id)  # fail fast; the conditional UPDATE decides when it is close

    state = await rules.member_state(s, member, now=now, session_id=cs.id)
    rules.check_member(state, city, now, session_id=cs.id)
    wanted = _wanted(extra_checks)
    if wanted is not None:
        await rules.run_extra_checks(
            extra_checks,
            city=city,
            member=Member(**vars(member)) if "member" in wanted else None,
            clinic_session=ClinicSession(**vars(cs)) if "clinic_session" in wanted else None,
            period=Period(**vars(period)) if "period" in wanted else None,
            channel=channel,
        )
    return period, cs


def _new_booking(
    s: AsyncSession,
    found: Mapping[str, Any],
    period: SimpleNamespace,
    cs: SimpleNamespace,
    *,
    member_id: int,
    kind: PoolKind,
    channel: str,
    actor: str,
    city: CityContext,
    now: datetime,
) -> Booking:
    """The new booking, not yet written: confirmed, or held for payment when the hospital is
    paid online. Its view parts are remembered on the session and its events and outbox rows
    collected there, to be written with it."""
    online = found["payment_mode"] == PaymentMode.online
    booking = unit_booking(
        cs,
        period,
        pool_id=found["pool_id"],
        member_id=member_id,
        channel=channel,
        status=BookingStatus.pending_payment if online else BookingStatus.confirmed,
        now=now,
        created_by=actor,
        city_id=city.id,
        payment_status="unpaid" if online else "none",
        hold_expires_at=now + timedelta(minutes=city.rules.hold_minutes) if online else None,
    )
    place = visit_place(
        found["campus_id"], found["campus_name"], found["campus_address"], found["hospital_name"],
        found["hospital_address"],
    )
    parts = ViewParts(
        found["hospital_name"], found["department_name"], found["doctor_name"], period.start, period.end,
        str(cs.half_day), place,
    )
    remember_parts(s, period.id, parts)
    events.record(s, booking, "created", at=now, actor=actor, data={"pool": str(kind)})
    if online:
        events.record(s, booking, "held", at=now, actor=actor)
        events.on_held(s, booking, now=now)
    else:
        events.record(s, booking, "confirmed", at=now, actor=actor)
        events.on_confirmed(s, booking, now=now)
    return booking


async def _write_and_take(
    s: AsyncSession,
    hot: HotPathStatements,
    booking: Booking,
    *,
    pool_id: int,
    session_id: int,
    period_id: int,
    before_take: Callable[[Booking], Awaitable[None]] | None,
) -> None:
    """Run ``before_take`` (its idempotency records are collected, not written), then write
    the booking, its events, outbox rows and those records and take the unit. A second
    booking of the session is ``duplicate_session``, no unit left ``slot_full``; the booking
    is then persistent in the session."""
    idempotency.defer_records(s)
    try:
        if before_take is not None:
            await before_take(booking)
    finally:
        records = idempotency.take_deferred(s)
    row = {c: getattr(booking, c) for c in _BOOKING_COLUMNS}
    try:
        taken = await hot.write_and_take(s, row, records, pool_id=pool_id)
    except DuplicateBooking:
        raise errors.duplicate_session(session_id) from None
    except RefTaken:
        raise errors.try_again() from None
    if not taken:
        raise errors.slot_full(period_id)
    make_transient_to_detached(booking)
    s.add(booking)  # persistent from here: later changes in this transaction are saved
