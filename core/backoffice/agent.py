"""Call-centre agents (12320, R5.3 human side, R12.2): confirm who is calling, see their
bookings and credit, and book, cancel or move on their behalf.

Every booking an agent makes goes through the booking engine with channel ``phone`` and the
same rules as the member's own (real name, limits, credit, the city's extra checks); it is
``created_by`` ``agent:<staff id>``. Each action leaves an ``agent_call`` booking event with the
call's recording reference (录音编号), so a dispute can be settled by listening to the call,
and an audit entry.
"""

from __future__ import annotations

import hmac
from weakref import WeakKeyDictionary

from pydantic import BaseModel
from sqlalchemy import select

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.booking import engine, events, service
from guahao.core.booking import errors as booking_errors
from guahao.core.booking.inventory import released_periods
from guahao.core.booking.refs import is_booking_ref, normalise_ref
from guahao.core.booking.views import booking_view
from guahao.core.errors import DomainError
from guahao.core.members.service import validate_name
from guahao.core.members.throttle import MemoryLoginThrottle, TooManyAttempts, for_runtime
from guahao.core.models import ACTIVE, Booking, Member
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from . import errors
from .patients import PatientMatch, match_view
from .scope import actor_label

CHANNEL = "phone"
# Identity-check failures per runtime (its database) when there is no Redis.
_CHECKS: "WeakKeyDictionary[object, MemoryLoginThrottle]" = WeakKeyDictionary()
RECORDING_MAX = 120


class CallerSummary(BaseModel):
    """What an agent sees of a caller once their identity is confirmed."""

    patient: PatientMatch
    upcoming: list[dict]
    past: list[dict]
    cancelled: list[dict]
    waitlist: list[dict]
    credit: dict  # status, suspended_until, reason, no-shows in the window …


def _recording(ref: str) -> str:
    text = (ref or "").strip()
    if not text:
        raise errors.invalid("recording_ref", "请填写本次通话的录音编号。", code="recording_required")
    if len(text) > RECORDING_MAX:
        raise errors.invalid("recording_ref", "录音编号过长。", code="recording_too_long")
    return text


def _booking_ref(value: str) -> str:
    ref = normalise_ref(value) if isinstance(value, str) else ""
    if not is_booking_ref(ref):
        raise booking_errors.BookingNotFound()
    return ref


async def _member(s, member_id: int) -> Member:
    member = await s.scalar(select(Member).where(Member.id == member_id))
    if member is None:
        raise errors.Missing("会员")
    return member


async def verify_identity(rt, member_id: int, *, name: str, id_last4: str, actor: Actor) -> bool:
    """Whether the caller knows the member's real name and the last 4 characters of their ID
    number. The answer never says which part was wrong; every check is audited. Five failures
    for one member lock further checks of that member for a while (shared through Redis when
    there is one), whichever agent asks."""
    throttle = for_runtime(rt, _CHECKS.setdefault(rt, MemoryLoginThrottle()))
    key = f"identity-check:{member_id}"
    city_id = require_city().id
    try:
        await throttle.check(city_id, key)
    except TooManyAttempts as exc:
        raise errors.TooManyChecks(exc.details["retry_after_seconds"]) from None
    try:
        given = validate_name(name or "")
    except DomainError:
        given = ""
    last4 = (id_last4 or "").strip().upper()
    async with rt.db.transaction() as s:
        member = await _member(s, member_id)
        name_ok = hmac.compare_digest(given.encode(), member.name.encode())
        id_ok = hmac.compare_digest(last4.encode(), member.id_number_masked[-4:].upper().encode())
        passed = name_ok and id_ok
        audit.record(
            s, actor, "agent.identity_check", target_type="member", target_id=member.id,
            summary="来电身份核验" + ("通过" if passed else "未通过"), after={"passed": passed},
        )
    await (throttle.succeeded if passed else throttle.failed)(city_id, key)
    return passed


async def caller_summary(rt, member_id: int) -> CallerSummary:
    """The caller's masked profile, bookings (upcoming, past, cancelled), waitlist and credit."""
    async with rt.db.transaction() as s:
        patient = match_view(await _member(s, member_id))
    return CallerSummary(
        patient=patient,
        upcoming=await service.list_bookings(rt, member_id=member_id, scope="upcoming"),
        past=await service.list_bookings(rt, member_id=member_id, scope="past"),
        cancelled=await service.list_bookings(rt, member_id=member_id, scope="cancelled"),
        waitlist=await service.list_waitlist(rt, member_id=member_id),
        credit=await service.credit(rt, member_id=member_id),
    )


def _call_event(s, booking: Booking, action: str, recording_ref: str, actor: Actor) -> None:
    events.record(
        s, booking, "agent_call", at=utcnow(), actor=actor_label(actor, "agent"),
        data={"action": action, "recording_ref": recording_ref, "agent": actor.name},
    )


async def _reserve(rt, s, checks, member_id: int, period_id: int, actor: Actor) -> Booking:
    city = require_city()
    try:
        return await engine.reserve(
            s, member_id=member_id, period_id=period_id, channel=CHANNEL, actor=actor_label(actor, "agent"),
            extra_checks=checks,
        )
    except DomainError as exc:
        if exc.code == "slot_full":
            await rt.gate.mark_sold_out(city.id, period_id)
        raise


async def book_for_caller(rt, *, member_id: int, period_id: int, recording_ref: str, actor: Actor) -> dict:
    """Book a public unit for the caller (channel ``phone``); the booking view."""
    ref = _recording(recording_ref)
    checks = await service.booking_checks(rt, require_city())  # before the transaction: it may read
    async with rt.db.transaction() as s:
        booking = await _reserve(rt, s, checks, member_id, period_id, actor)
        _call_event(s, booking, "book", ref, actor)
        audit.record(s, actor, "agent.book", target_type="booking", target_id=booking.id,
                     summary=f"代来电会员预约 {booking.id}", after={"period_id": period_id, "recording_ref": ref})
        await events.write(s)
        return (await booking_view(s, booking)).model_dump(mode="json")


async def cancel_for_caller(
    rt, *, member_id: int, booking_id: str, recording_ref: str, actor: Actor, reason: str = ""
) -> dict:
    """Cancel the caller's booking under the member's own rules (cut-off included)."""
    ref = _recording(recording_ref)
    city = require_city()
    async with rt.db.transaction() as s:
        booking = await engine.cancel(
            s, _booking_ref(booking_id), member_id=member_id, actor=actor_label(actor, "agent"), reason=reason or "phone_cancel"
        )
        _call_event(s, booking, "cancel", ref, actor)
        audit.record(s, actor, "agent.cancel", target_type="booking", target_id=booking.id,
                     summary=f"代来电会员取消预约 {booking.id}", reason=reason, after={"recording_ref": ref})
        await events.write(s)
        body = (await booking_view(s, booking)).model_dump(mode="json")
        freed = released_periods(s)
    await service.clear_gate(rt, city, freed)
    return body


async def move_for_caller(
    rt, *, member_id: int, booking_id: str, period_id: int, recording_ref: str, actor: Actor
) -> dict:
    """Change the caller's booking to another period: the old one is cancelled and the new one
    booked in one transaction, so a refused new booking leaves the old one standing."""
    ref = _recording(recording_ref)
    city = require_city()
    checks = await service.booking_checks(rt, city)
    async with rt.db.transaction() as s:
        ref_id = _booking_ref(booking_id)
        current = await s.scalar(select(Booking.status).where(Booking.id == ref_id, Booking.member_id == member_id))
        if current is None:
            raise booking_errors.BookingNotFound()
        if current not in ACTIVE:
            raise booking_errors.invalid_state(str(current), "move")
        old = await engine.cancel(s, ref_id, member_id=member_id, actor=actor_label(actor, "agent"), reason="phone_move")
        new = await _reserve(rt, s, checks, member_id, period_id, actor)
        _call_event(s, old, "move_from", ref, actor)
        _call_event(s, new, "move_to", ref, actor)
        audit.record(s, actor, "agent.move", target_type="booking", target_id=new.id,
                     summary=f"代来电会员改约 {old.id} → {new.id}",
                     before={"booking_id": old.id, "period_id": old.period_id},
                     after={"booking_id": new.id, "period_id": period_id, "recording_ref": ref})
        await events.write(s)
        body = (await booking_view(s, new)).model_dump(mode="json")
        freed = released_periods(s)
    await service.clear_gate(rt, city, freed)
    return body
