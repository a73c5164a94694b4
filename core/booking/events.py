"""What a booking's state change leaves behind, in the same transaction as the change.

Each change is a ``BookingEvent`` row (the booking's audit trail) and a ``booking.event``
outbox row (plugins hear about it after commit). Confirmations also plan the messages a
member gets (confirmation, the two reminders) and the push to the hospital's HIS.

The rows are collected on the session and written by :func:`write` with one multi-row
INSERT per table (the booking rush makes nine of them per booking; the ORM's unit of work
would cost more than the rest of the request). Every engine function that records something
ends with ``await events.write(s)``.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Booking, BookingEvent, OutboxMessage
from guahao.tenants.context import require_city

REMINDER_EVENING_BEFORE = time(18, 0)
REMINDER_BEFORE_START = timedelta(minutes=30)
SURVEY_AFTER_VISIT = timedelta(hours=2)

_TRAIL = "guahao.booking_trail"
_INSERT_EVENTS = insert(BookingEvent.__table__)
_INSERT_OUTBOX = insert(OutboxMessage.__table__)


def _trail(s: AsyncSession) -> tuple[list[dict], list[dict]]:
    return s.info.setdefault(_TRAIL, ([], []))


def emit(s: AsyncSession, topic: str, payload: dict[str, Any], *, due_at: datetime | None = None, now: datetime) -> None:
    """An outbox row (same columns as ``core.outbox.emit`` writes), written by :func:`write`."""
    _trail(s)[1].append(
        {
            "city_id": require_city().id,
            "topic": topic,
            "payload": payload,
            "due_at": due_at or now,
            "status": "pending",
            "attempts": 0,
            "last_error": "",
            "created_at": now,
            "done_at": None,
        }
    )


def record(
    s: AsyncSession, booking: Booking, kind: str, *, at: datetime, actor: str, data: dict | None = None
) -> None:
    """Append ``kind`` to the booking's history and announce it to the city's plugins."""
    _trail(s)[0].append(
        {"city_id": require_city().id, "booking_id": booking.id, "kind": kind, "at": at, "actor": actor[:80], "data": data or {}}
    )
    emit(
        s,
        "booking.event",
        {
            "kind": kind,
            "booking_id": booking.id,
            "member_id": booking.member_id,
            "session_id": booking.session_id,
            "period_id": booking.period_id,
            "hospital_id": booking.hospital_id,
            "channel": booking.channel,
            "status": str(booking.status),
            "fee_fen": booking.fee_fen,
            "at": at.isoformat(),
            **({"data": data} if data else {}),
        },
        now=at,
    )


def take_trail(s: AsyncSession) -> tuple[list[dict], list[dict]]:
    """The collected ``(events, outbox rows)``, removed from the session (for a caller that
    writes them itself, with the ORM's pending changes flushed first)."""
    return s.info.pop(_TRAIL, ([], []))


async def write(s: AsyncSession) -> None:
    """Flush the ORM's pending changes, then insert the collected events and outbox rows."""
    events, outbox = take_trail(s)
    await s.flush()
    if not (events or outbox):
        return
    conn = await s.connection()  # Core inserts: the rows carry their city_id already
    if events:
        await conn.execute(_INSERT_EVENTS, events)
    if outbox:
        await conn.execute(_INSERT_OUTBOX, outbox)


def notify(
    s: AsyncSession,
    kind: str,
    *,
    member_id: int,
    now: datetime,
    booking_id: str | None = None,
    data: dict | None = None,
    due_at: datetime | None = None,
) -> None:
    """Plan a message to a member; the sender plugins deliver it after commit."""
    payload = {"kind": kind, "member_id": member_id, "booking_id": booking_id, "data": data or {}}
    emit(s, "notify", payload, due_at=due_at, now=now)


def on_confirmed(s: AsyncSession, booking: Booking, *, now: datetime) -> None:
    """Confirmation message, reminders (only those still ahead) and the HIS push."""
    member_id, ref = booking.member_id, booking.id
    notify(
        s,
        "booking_confirmed",
        member_id=member_id,
        booking_id=ref,
        now=now,
        data={"starts_at": booking.starts_at.isoformat()},
    )
    tz = require_city().tz
    evening = datetime.combine(booking.session_date - timedelta(days=1), REMINDER_EVENING_BEFORE, tzinfo=tz)
    evening = evening.astimezone(UTC)
    if evening > now:
        notify(s, "reminder_day_before", member_id=member_id, booking_id=ref, now=now, due_at=evening)
    shortly = booking.starts_at - REMINDER_BEFORE_START
    if shortly > now:
        notify(s, "reminder_30min", member_id=member_id, booking_id=ref, now=now, due_at=shortly)
    his_push(s, booking, "book", now=now)


def on_held(s: AsyncSession, booking: Booking, *, now: datetime) -> None:
    """An unpaid hold: tell the member to pay, and plan the hold's end."""
    assert booking.hold_expires_at is not None
    notify(
        s,
        "booking_pending_payment",
        member_id=booking.member_id,
        booking_id=booking.id,
        now=now,
        data={"hold_expires_at": booking.hold_expires_at.isoformat(), "fee_fen": booking.fee_fen},
    )
    emit(s, "booking.hold_expiry", {"booking_id": booking.id}, due_at=booking.hold_expires_at, now=now)


def his_push(s: AsyncSession, booking: Booking, action: str, *, now: datetime, **details: Any) -> None:
    """Tell the hospital's HIS about a booking (``book``), its cancellation (``cancel``), its
    move (``move``: ``key`` and the ``previous`` view), a payment (``payment``) or a refund
    (``refund``: a dict each, see ``HisAdapter.push_payment``)."""
    emit(s, "his.push", {"booking_id": booking.id, "action": action, **details}, now=now)


def emit_offer_expiry(s: AsyncSession, booking: Booking, *, now: datetime) -> None:
    """Plan the end of a waitlist offer (its deadline is the booking's ``hold_expires_at``)."""
    assert booking.hold_expires_at is not None
    emit(s, "booking.offer_expiry", {"booking_id": booking.id}, due_at=booking.hold_expires_at, now=now)


def on_checked_in(s: AsyncSession, booking: Booking, *, now: datetime) -> None:
    """Invite the member to the satisfaction survey (R9.2) two hours after the visit ends."""
    city = require_city()
    notify(
        s,
        "survey_invitation",
        member_id=booking.member_id,
        booking_id=booking.id,
        now=now,
        due_at=max(booking.ends_at + SURVEY_AFTER_VISIT, now),
        data={"url": f"/c/{city.slug}/survey/{booking.id}"},
    )


def payment_refund(s: AsyncSession, booking: Booking, *, payment_ref: str, reason: str, now: datetime) -> None:
    """Plan giving back a booking's online payment (``payment.refund``, run by its provider)."""
    emit(
        s,
        "payment.refund",
        {
            "booking_id": booking.id,
            "provider": booking.payment_provider,
            "payment_ref": payment_ref,
            "amount_fen": booking.fee_fen,
            "reason": reason,
        },
        now=now,
    )


def payment_void(s: AsyncSession, booking: Booking, *, now: datetime) -> None:
    """Plan closing a started, unpaid payment (``payment.void``), so it cannot be paid late."""
    emit(s, "payment.void", {"booking_id": booking.id, "provider": booking.payment_provider}, now=now)
