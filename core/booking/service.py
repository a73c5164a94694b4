"""Booking services for the API and the channels: each opens its own transaction(s).

The city context must be set (the middleware does it for requests, ``use_city`` in jobs).
Responses are JSON-ready dicts of ``BookingView``/``WaitlistView``/``CreditStatus``.

The sold-out gate is keyed by period (see ``core.booking.gate``): a booking request names a
period, so the gate is asked before any database work (this process's own marks first, the
shared gate again when the request's turn in the booking queue comes). A ``slot_full`` from
the database marks the period; any change that gives a public unit back clears the mark after
commit. The job wrappers at the end do the same for holds and offers that run out.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import idempotency, metrics
from guahao.core.errors import DomainError
from guahao.core.models import Booking, BookingStatus, WaitlistEntry, WaitlistStatus
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, require_city, use_city

from . import engine, errors
from .credit import credit_status
from .inventory import released_periods
from .refs import is_booking_ref, normalise_ref
from .views import booking_view, booking_views, waitlist_view

SCOPES = ("all", "upcoming", "past", "cancelled")
LIST_LIMIT = 200
_UPCOMING = (BookingStatus.pending_payment, BookingStatus.confirmed, BookingStatus.offered)
_ENDED = (BookingStatus.cancelled, BookingStatus.expired)


async def book(
    rt, *, member_id: int, period_id: int, channel: str, idempotency_key: str | None = None,
    admit: Callable[[], Awaitable[None]] | None = None,
) -> tuple[dict, int, bool]:
    """Book a public unit of a period for the member: ``(BookingView dict, 201, replayed)``.

    ``admit`` runs once the period is known not to be sold out, before anything else is read:
    the caller's request limits (``core.ratelimit``), so a sold-out answer costs no count and the
    release rush's losers cost no round trip to Redis.

    Counted in ``guahao_bookings_total`` by city, channel and result (``booked``, ``replayed``
    or the refusal's code)."""
    city = require_city()
    try:
        body, status, replayed = await _book(rt, city, member_id, period_id, channel, idempotency_key, admit)
    except DomainError as exc:
        metrics.record_booking(city.slug, channel, exc.code)
        raise
    except Exception:
        metrics.record_booking(city.slug, channel, "error")
        raise
    metrics.record_booking(city.slug, channel, "replayed" if replayed else "booked")
    return body, status, replayed


async def _book(
    rt, city: CityContext, member_id: int, period_id: int, channel: str, idempotency_key: str | None,
    admit: Callable[[], Awaitable[None]] | None = None,
) -> tuple[dict, int, bool]:
    owner = f"member:{member_id}"
    request = {"op": "book", "period_id": period_id, "channel": channel}
    if idempotency_key is not None:
        idempotency.check_key(idempotency_key)
    if rt.gate.seen_sold_out(city.id, period_id):
        return await _sold_out(rt, owner, idempotency_key, request, period_id)
    if admit is not None:
        await admit()
    checks = await booking_checks(rt, city)

    async def action(s: AsyncSession, store) -> tuple[dict, int]:
        done: list[dict] = []

        async def before_take(booking) -> None:  # the response is stored before the unit is taken
            done.append((await booking_view(s, booking)).model_dump(mode="json"))
            if store is not None:
                await store(s, done[0], 201)

        await engine.reserve(
            s, member_id=member_id, period_id=period_id, channel=channel, extra_checks=checks, before_take=before_take
        )
        return done[0], 201

    async with rt.gate.turn():
        # It may have sold out while we queued. The key is noted before the transaction
        # (never while a pool row is locked): the note is a hint that errs towards a
        # look-up, so writing it for an attempt that fails is harmless.
        if not await rt.gate.admit(city.id, period_id, owner, idempotency_key):
            return await _sold_out(rt, owner, idempotency_key, request, period_id)
        try:
            return await idempotency.run_once(
                rt.db, owner=owner, key=idempotency_key, request=request, storing_action=action
            )
        except DomainError as exc:
            if exc.code == "slot_full":
                await rt.gate.mark_sold_out(city.id, period_id)
            raise
        except IntegrityError as exc:
            raise _integrity_error(exc, period_id) from None


async def _sold_out(rt, owner: str, key: str | None, request: dict, period_id: int) -> tuple[dict, int, bool]:
    """The gate says sold out: answer ``slot_full``, unless this is a replay of a request that
    got its booking (then the stored response)."""
    if key is not None and await rt.gate.may_have_booked(require_city().id, owner, key):
        hit = await idempotency.replay(rt.db, owner=owner, key=key, request_hash=idempotency.fingerprint(request))
        if hit is not None:
            return hit[0], hit[1], True
    metrics.record_gate_refusal(require_city().slug)
    raise errors.slot_full(period_id)


def _integrity_error(exc: IntegrityError, period_id: int) -> DomainError | IntegrityError:
    text = str(exc.orig)
    if "uq_booking_member_session" in text or "bookings.member_id" in text:
        return errors.duplicate_session(None)
    if "ck_pool_not_overbooked" in text:
        return errors.slot_full(period_id)
    return exc


class ExtraChecks:
    """The city's ``guahao_booking_checks`` (only its enabled plugins) with ``rt`` passed on;
    ``get_hookimpls`` tells which rows its implementations read (see ``reservation``)."""

    def __init__(self, caller, rt):
        self._caller = caller
        self._rt = rt

    def get_hookimpls(self) -> list:
        return self._caller.get_hookimpls()

    def __call__(self, **kwargs: Any) -> Any:
        return self._caller(rt=self._rt, **kwargs)


async def booking_checks(rt, city: CityContext) -> Callable[..., Any] | None:
    """The city's extra booking rules, ready for ``engine.reserve(extra_checks=…)``."""
    plugins = await rt.plugins.for_city(city)
    return ExtraChecks(plugins.hook.guahao_booking_checks, rt)


async def clear_gate(rt, city: CityContext, period_ids: set[int]) -> None:
    """Units came back: let requests for these periods through the gate again."""
    for period_id in period_ids:
        await rt.gate.clear(city.id, period_id)


def _ref(booking_id: str) -> str:
    ref = normalise_ref(booking_id) if isinstance(booking_id, str) else ""
    if not is_booking_ref(ref):
        raise errors.BookingNotFound()
    return ref


async def cancel_booking(rt, *, member_id: int, booking_id: str, reason: str = "") -> dict:
    """Cancel the member's own booking (R3.4); another member's booking is not found."""
    city = require_city()
    ref = _ref(booking_id)
    async with rt.db.transaction() as s:
        booking = await engine.cancel(s, ref, member_id=member_id, reason=reason)
        body = (await booking_view(s, booking)).model_dump(mode="json")
        freed = released_periods(s)
    await clear_gate(rt, city, freed)
    return body


async def get_booking(rt, *, member_id: int, booking_id: str) -> dict:
    ref = _ref(booking_id)
    async with rt.db.transaction() as s:
        booking = await s.scalar(select(Booking).where(Booking.id == ref, Booking.member_id == member_id))
        if booking is None:
            raise errors.BookingNotFound()
        return (await booking_view(s, booking)).model_dump(mode="json")


async def report_check_in(rt, city: CityContext, booking_id: str, *, source: str) -> dict:
    """The hospital saw the patient (取号 at the window or kiosk): check the booking in (R4.1).

    ``source`` names who reported it (``his:<plugin>``) in the booking's history. Returns the
    booking as the API shows it; raises ``DomainError`` (``not_found``, ``invalid_state`` …).
    """
    with use_city(city):
        async with rt.db.transaction() as s:
            booking = await engine.check_in(s, booking_id, actor=source)
            return (await booking_view(s, booking)).model_dump(mode="json")


async def list_bookings(rt, *, member_id: int, scope: str = "all") -> list[dict]:
    """The member's bookings: ``all``, ``upcoming`` (soonest first), ``past``, ``cancelled``."""
    if scope not in SCOPES:
        raise errors.invalid_scope(str(scope)[:40], SCOPES)
    now = utcnow()
    stmt = select(Booking).where(Booking.member_id == member_id)
    if scope == "upcoming":
        stmt = stmt.where(Booking.status.in_(_UPCOMING), Booking.ends_at > now).order_by(Booking.starts_at, Booking.id)
    else:
        if scope == "past":
            stmt = stmt.where(
                or_(
                    Booking.status.in_((BookingStatus.checked_in, BookingStatus.no_show)),
                    (Booking.status.in_(_UPCOMING)) & (Booking.ends_at <= now),
                )
            )
        elif scope == "cancelled":
            stmt = stmt.where(Booking.status.in_(_ENDED))
        stmt = stmt.order_by(Booking.starts_at.desc(), Booking.id)
    async with rt.db.transaction() as s:
        bookings = list((await s.scalars(stmt.limit(LIST_LIMIT))).all())
        return [v.model_dump(mode="json") for v in await booking_views(s, bookings)]


async def join_waitlist(rt, *, member_id: int, session_id: int) -> dict:
    async with rt.db.transaction() as s:
        entry = await engine.join_waitlist(s, member_id=member_id, session_id=session_id)
        return (await waitlist_view(s, entry)).model_dump(mode="json")


async def leave_waitlist(rt, *, member_id: int, entry_id: int) -> dict:
    city = require_city()
    async with rt.db.transaction() as s:
        entry = await engine.leave_waitlist(s, member_id=member_id, entry_id=entry_id)
        body = (await waitlist_view(s, entry)).model_dump(mode="json")
        freed = released_periods(s)
    await clear_gate(rt, city, freed)
    return body


async def list_waitlist(rt, *, member_id: int) -> list[dict]:
    """The member's open waitlist entries (waiting or offered), oldest first."""
    async with rt.db.transaction() as s:
        entries = (
            await s.scalars(
                select(WaitlistEntry)
                .where(
                    WaitlistEntry.member_id == member_id,
                    WaitlistEntry.status.in_((WaitlistStatus.waiting, WaitlistStatus.offered)),
                )
                .order_by(WaitlistEntry.id)
                .limit(LIST_LIMIT)
            )
        ).all()
        return [(await waitlist_view(s, e)).model_dump(mode="json") for e in entries]


async def accept_offer(rt, *, member_id: int, booking_id: str) -> dict:
    ref = _ref(booking_id)
    async with rt.db.transaction() as s:
        booking = await engine.accept_offer(s, ref, member_id=member_id)
        return (await booking_view(s, booking)).model_dump(mode="json")


async def credit(rt, *, member_id: int) -> dict:
    async with rt.db.transaction() as s:
        return (await credit_status(s, member_id)).model_dump(mode="json")


# --- for jobs: one transaction each, the gate cleared after commit -------------------------


async def expire_hold(rt, booking_id: str) -> bool:
    """Run ``engine.expire_hold``; ``True`` if the hold ended now."""
    return await _run_and_clear(rt, engine.expire_hold, booking_id)


async def expire_offer(rt, booking_id: str) -> bool:
    """Run ``engine.expire_offer``; ``True`` if the offer ended now."""
    return await _run_and_clear(rt, engine.expire_offer, booking_id)


async def release_reserved_pools(rt) -> int:
    """Run ``engine.release_reserved_pools`` for the current city; units moved to public."""
    city = require_city()
    async with rt.db.transaction() as s:
        moved = await engine.release_reserved_pools(s)
        freed = released_periods(s)
    await clear_gate(rt, city, freed)
    return moved


async def _run_and_clear(rt, fn, *args) -> bool:
    city = require_city()
    async with rt.db.transaction() as s:
        result = await fn(s, *args)
        freed = released_periods(s)
    await clear_gate(rt, city, freed)
    return result is not None
