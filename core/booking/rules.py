"""The booking rules that run in the application, with the member row locked (R3.2–R3.3, R4.3).

The rules the database can hold it holds (one unit per booking, one holding booking per member
per session). The others read state that only changes under the same member lock: the member's
suspension and their active bookings. ``SELECT … FOR UPDATE`` takes the lock on PostgreSQL;
SQLite serialises writers already (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import and_, bindparam, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import DomainError, ValidationFailed
from guahao.core.models import ACTIVE, HOLDING, Booking, Member, PoolKind, SessionStatus
from guahao.tenants.context import CityContext
from guahao.tenants.rules import CityRules

from . import errors
from .statements import statements_for

# Reserved pools (R2.4) answer only to the channel they are kept for; the public pool
# serves every channel (web, app, SMS, phone, WeChat, kiosk, agents…).
RESERVED_POOL_CHANNELS: dict[str, frozenset[str]] = {
    PoolKind.onsite: frozenset({"onsite"}),
    PoolKind.clinic: frozenset({"clinic"}),
    PoolKind.referral: frozenset({"referral"}),
}
_CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,19}$")


@dataclass
class MemberState:
    """The locked member with what the rules need to know about their bookings.

    ``member`` is a ``Member`` or any object with its columns as attributes (the hot path
    reads rows without the ORM).
    """

    member: Any
    active: int  # pending_payment/confirmed bookings that start in the future
    holds_session: bool  # a holding booking in the session asked about


async def lock_member(
    s: AsyncSession, member_id: int, *, now: datetime, session_id: int | None = None
) -> MemberState:
    """Lock the member row, then count their bookings.

    Two statements on purpose: on PostgreSQL a statement that waited for a row lock sees
    the locked row's new version but keeps its old snapshot for everything else, so counts
    taken in the locking statement could miss a booking its competitor just committed.
    """
    member = await s.scalar(select(Member).where(Member.id == member_id).with_for_update())
    if member is None:
        raise errors.BookingNotFound("会员")
    return await member_state(s, member, now=now, session_id=session_id)


_BOOKINGS = Booking.__table__
_OF_MEMBER = and_(_BOOKINGS.c.city_id == bindparam("city_id"), _BOOKINGS.c.member_id == bindparam("member_id"))
_ACTIVE_COUNT = (
    select(func.count())
    .select_from(_BOOKINGS)
    .where(_OF_MEMBER, _BOOKINGS.c.status.in_(ACTIVE), _BOOKINGS.c.starts_at > bindparam("now", type_=_BOOKINGS.c.starts_at.type))
    .scalar_subquery()
)
_HOLDS_SESSION = exists().where(
    and_(_OF_MEMBER, _BOOKINGS.c.session_id == bindparam("session_id"), _BOOKINGS.c.status.in_(HOLDING))
)
# A Core statement naming the city itself, run on the session's connection (hot path).
_MEMBER_STATE = select(_ACTIVE_COUNT.label("active"), _HOLDS_SESSION.label("holds"))


async def member_state(s: AsyncSession, member: Any, *, now: datetime, session_id: int | None) -> MemberState:
    """Count the (already locked) member's active bookings and whether one holds ``session_id``."""
    params = {"city_id": member.city_id, "member_id": member.id, "now": now, "session_id": session_id}
    row = await statements_for(s).fetch_one(s, _MEMBER_STATE, params)
    assert row is not None  # a SELECT without FROM always answers one row
    active, holds = row["active"], row["holds"]
    return MemberState(member, int(active), bool(holds) if session_id is not None else False)


def check_channel(channel: str) -> None:
    if not isinstance(channel, str) or not _CHANNEL.match(channel):
        raise ValidationFailed(
            "invalid_channel",
            "预约渠道名称无效，请使用小写英文字母、数字或下划线（最多 20 个字符）。",
            details={"channel": str(channel)[:40]},
        )


def check_pool(pool: str, channel: str) -> PoolKind:
    try:
        kind = PoolKind(pool)
    except ValueError:
        raise ValidationFailed("invalid_pool", "号源池名称无效。", details={"pool": str(pool)[:40]}) from None
    allowed = RESERVED_POOL_CHANNELS.get(kind)
    if allowed is not None and channel not in allowed:
        raise errors.pool_not_allowed(kind, channel)
    return kind


def check_session_open(cs: Any, *, hospital_active: bool) -> None:
    """``cs``: a ``ClinicSession`` or a row with its columns."""
    if cs.status != SessionStatus.open:
        raise errors.session_unavailable(str(cs.status))
    if not hospital_active:
        raise errors.session_unavailable("hospital_inactive")


def booking_closes_at(period: Any, rules: CityRules) -> datetime:
    """Booking closes ``booking_cutoff_minutes`` before the period starts (R3.3)."""
    return period.starts_at - timedelta(minutes=rules.booking_cutoff_minutes)


def check_window(cs: Any, period: Any, pool: PoolKind, rules: CityRules, now: datetime) -> None:
    """Public units open at the session's release instant (R2.5); every pool closes at the cut-off."""
    if pool == PoolKind.public and now < cs.release_at:
        raise errors.not_released(cs.release_at)
    closes = booking_closes_at(period, rules)
    if now >= closes:
        raise errors.past_cutoff(closes)


def check_member(state: MemberState, city: CityContext, now: datetime, *, session_id: int | None) -> None:
    """Suspension (R4.3), one booking per session (R3.1), active limit (R3.2), in that order."""
    member = state.member
    if member.suspended_until is not None and member.suspended_until > now:
        raise errors.credit_suspended(member.suspended_until, member.suspension_reason, city.tz)
    if session_id is not None and state.holds_session:
        raise errors.duplicate_session(session_id)
    limit = city.rules.max_active_bookings
    if state.active >= limit:
        raise errors.too_many_active(limit, state.active)


async def run_extra_checks(extra_checks: Callable[..., Any] | None, **kwargs: Any) -> None:
    """Ask the city's plugins (``guahao_booking_checks``); the first code given refuses.

    Hook implementations may return a code, a ``DomainError`` (raised as it is: the plugin's
    own code and words), ``None``, or an awaitable of any of these.
    """
    if extra_checks is None:
        return
    results = extra_checks(**kwargs)
    if inspect.isawaitable(results):
        results = await results
    if results is None or isinstance(results, str):
        results = [results]
    # Every answer is awaited before the first refusal is raised: none is left un-awaited.
    answers = [await r if inspect.isawaitable(r) else r for r in results]
    for result in answers:
        if isinstance(result, DomainError):
            raise result
        if result:
            raise errors.extra_rule(str(result)[:60])
