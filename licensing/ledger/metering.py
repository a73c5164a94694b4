"""From domain events to ledger rows: what each event counts, and under which source id.

Events arrive at least once (the outbox retries, a worker may die after appending and before
marking its message done, a job is replayed); the source ids make a repeat count nothing.

=====================  ==============================================  =============================
meter                  source id                                       from
=====================  ==============================================  =============================
booking.confirmed      ``booking.confirmed:<booking>``                 booking event ``confirmed``
hospital.active        ``hospital.active:<hospital>:<YYYY-MM>``        the month's first confirmation
booking.cancelled      ``booking.cancelled:<booking>``                 booking event ``cancelled``
fee.paid_fen           ``fee.paid_fen:<booking>:<payment ref>``        ``paid``, ``paid_late``
fee.refunded_fen       ``fee.refunded_fen:<booking>:<refund ref>``     a refund that succeeded
fee.refunded_fen (−)   ``fee.refunded_fen:<booking>:<ref>:failed``     that refund failing later
notification.sent      ``notification.sent:<notification>``            a delivered message
member.registered      ``member.registered:<member>``                  member event ``registered``
(reported)             the reporter's own id                           ``report_usage``
=====================  ==============================================  =============================

Notes on the events as core and the payment plugins write them:

- an offered waitlist place that is declined ends as ``cancelled`` with ``data.from = offered``:
  the member never held that booking, so it is not a cancellation;
- ``refunded`` is written when a refund was asked for, with ``data.status`` ``refunded`` or
  ``pending``; a pending refund counts when the provider reports it succeeded
  (``refund_succeeded``, Stripe), under the same source id, so a refund reported both ways counts
  once. A refund the provider later reports failed (``refund_failed``) after it had succeeded
  is taken back with a negative row. Refund events are metered from the booking's whole refund
  history, so the order in which their messages run does not matter;
- ``hospital.active`` is counted in the city's local month of the confirmation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from guahao.core.models import BookingEvent, ClinicSession, Notification, OutboxMessage, RegistrationType
from guahao.core.notifications import notification_event
from guahao.plugin_api import utcnow

from . import batch
from .append import Usage
from .meters import METERS, sms_segments

TOPICS = ("booking.event", "member.event", "notification.sent", "usage.reported")
"""The outbox topics whose messages carry facts the ledger counts."""
BILLED_KINDS = frozenset({"confirmed", "cancelled", "paid", "paid_late", "refunded", "refund_succeeded", "refund_failed"})
REFUND_KINDS = ("refunded", "refund_succeeded", "refund_failed")


def _when(value: str | datetime | None) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value) if value else utcnow()


@dataclass(frozen=True)
class RefundStep:
    """One refund event of a booking's history."""

    kind: str
    at: datetime
    data: dict


def refund_usage(booking: str, history: Iterable[RefundStep]) -> list[Usage]:
    """What a booking's refund history counts: each refund that succeeded once (its amount),
    and each of those that failed afterwards once more (the amount taken back)."""
    out: list[Usage] = []
    succeeded: dict[str, RefundStep] = {}
    taken_back: set[str] = set()
    for step in history:
        data = step.data or {}
        ref = str(data.get("refund_ref") or data.get("payment_ref") or "")
        provider = str(data.get("provider") or "")
        if step.kind == "refund_succeeded" or (step.kind == "refunded" and data.get("status") == "refunded"):
            amount = int(data.get("amount_fen") or 0)
            if ref not in succeeded and amount > 0:
                succeeded[ref] = step
                out.append(Usage("fee.refunded_fen", amount, f"fee.refunded_fen:{booking}:{ref}", step.at,
                                 {"provider": provider}))
        elif step.kind == "refund_failed" and ref in succeeded and ref not in taken_back:
            taken_back.add(ref)
            amount = int((succeeded[ref].data or {}).get("amount_fen") or 0)
            out.append(Usage("fee.refunded_fen", -amount, f"fee.refunded_fen:{booking}:{ref}:failed", step.at,
                             {"provider": provider}))
    return out


def booking_usage(city, event: dict, registration_type: str, refunds: Iterable[RefundStep] = ()) -> list[Usage]:
    """The facts a booking event counts (none for most kinds).

    Parameters:
        registration_type: the code of the booked session's registration type.
        refunds: the booking's refund history (refund events only).
    """
    kind, booking = event.get("kind"), event.get("booking_id")
    at = _when(event.get("at"))
    data = event.get("data") or {}
    channel = str(event.get("channel") or "")
    out: list[Usage] = []
    if kind == "confirmed":
        out.append(Usage("booking.confirmed", 1, f"booking.confirmed:{booking}", at,
                         {"channel": channel, "registration_type": registration_type}))
        month = at.astimezone(city.tz).strftime("%Y-%m")
        hospital = event.get("hospital_id")
        if hospital is not None:
            out.append(Usage("hospital.active", 1, f"hospital.active:{hospital}:{month}", at, {"hospital": str(hospital)}))
    elif kind == "cancelled" and data.get("from") != "offered":
        out.append(Usage("booking.cancelled", 1, f"booking.cancelled:{booking}", at,
                         {"channel": channel, "registration_type": registration_type,
                          "reason": str(data.get("reason") or "")[:40]}))
    elif kind in ("paid", "paid_late"):
        amount = int(data.get("amount_fen", event.get("fee_fen") or 0))
        if amount > 0:
            out.append(Usage("fee.paid_fen", amount, f"fee.paid_fen:{booking}:{data.get('payment_ref', '')}", at,
                             {"provider": str(data.get("provider") or "")}))
    elif kind in REFUND_KINDS:
        out += refund_usage(str(booking), refunds)
    return out


async def registration_types(s, session_ids: Iterable[int | None]) -> dict[int, str]:
    """Session id → the code of its registration type."""
    ids = {i for i in session_ids if i is not None}
    if not ids:
        return {}
    rows = await s.execute(
        select(ClinicSession.id, RegistrationType.code)
        .join(RegistrationType, ClinicSession.registration_type_id == RegistrationType.id)
        .where(ClinicSession.id.in_(ids))
    )
    return {int(i): code or "" for i, code in rows.all()}


async def refund_histories(s, booking_ids: Iterable[str]) -> dict[str, list[RefundStep]]:
    """Booking id → its refund events, oldest first."""
    ids = set(booking_ids)
    if not ids:
        return {}
    rows = await s.execute(
        select(BookingEvent.booking_id, BookingEvent.kind, BookingEvent.at, BookingEvent.data)
        .where(BookingEvent.booking_id.in_(ids), BookingEvent.kind.in_(REFUND_KINDS))
        .order_by(BookingEvent.id)
    )
    out: dict[str, list[RefundStep]] = {}
    for booking, kind, at, data in rows.all():
        out.setdefault(booking, []).append(RefundStep(kind, at, dict(data or {})))
    return out


async def booking_events_usage(s, city, events: list[dict], *, strict: bool = True) -> list[Usage]:
    """The facts of several booking events of one city, with one lookup per kind of context.

    ``strict=False`` leaves out an event whose payload cannot be read instead of raising (a
    batch of other events' facts: that event's own handler reports the error).
    """
    billed = [e for e in events if e.get("kind") in BILLED_KINDS]
    sessions = {e.get("session_id") for e in billed if e.get("kind") in ("confirmed", "cancelled")}
    types = await registration_types(s, (i for i in sessions if isinstance(i, int)))
    refunds = await refund_histories(s, (str(e.get("booking_id")) for e in billed if e.get("kind") in REFUND_KINDS))
    out: list[Usage] = []
    for e in billed:
        try:
            out += booking_usage(city, e, types.get(e.get("session_id") or -1, ""), refunds.get(str(e.get("booking_id")), ()))
        except (KeyError, TypeError, ValueError):
            if strict:
                raise
    return out


def notification_usage(notification: dict) -> Usage:
    """A delivered message: one, or for an SMS its 70-character segments."""
    channel = str(notification.get("channel") or "")
    quantity = sms_segments(int(notification.get("chars") or 0)) if channel == "sms" else 1
    return Usage("notification.sent", quantity, f"notification.sent:{notification['id']}",
                 _when(notification.get("sent_at")), {"channel": channel, "kind": str(notification.get("kind") or "")})


def member_usage(event: dict) -> list[Usage]:
    """A registration (member event ``registered``), by the member or by staff (代办)."""
    if event.get("kind") != "registered":
        return []
    by = str(event.get("registered_by") or "self")
    return [Usage("member.registered", 1, f"member.registered:{event['member_id']}", _when(event.get("at")),
                  {"registered_by": "self" if by == "self" else "staff"})]


def reported_usage(usage: dict) -> Usage:
    """What a plugin (or core, for API calls) reported with ``report_usage``."""
    if usage.get("meter") not in METERS:
        raise ValueError(f"unknown meter {usage.get('meter')!r} reported")
    return Usage(usage["meter"], int(usage["quantity"]), str(usage["source_id"]), _when(usage.get("occurred_at")),
                 {str(k): str(v) for k, v in dict(usage.get("dimensions") or {}).items()})


async def waiting_usage(s, city, after: int) -> tuple[list[Usage], int]:
    """The facts of the city's metered messages that wait in the outbox with an id above
    ``after``, and the last id read (malformed messages are left to their own handler, which
    reports the error)."""
    rows = (
        await s.execute(
            select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.payload)
            .where(OutboxMessage.topic.in_(TOPICS), OutboxMessage.status.in_(("pending", "queued")),
                   OutboxMessage.id > after)
            .order_by(OutboxMessage.id)
            .limit(batch.PEEK_LIMIT)
        )
    ).all()
    bookings, out = [], []
    sent: dict[int, str] = {}
    last = after
    for outbox_id, topic, payload in rows:
        last = max(last, outbox_id)
        payload = dict(payload or {})
        try:
            if topic == "booking.event":
                bookings.append(payload)
            elif topic == "member.event":
                out += member_usage(payload)
            elif topic == "usage.reported":
                out.append(reported_usage(payload))
            elif topic == "notification.sent":
                sent[int(payload["notification_id"])] = str(payload.get("channel", "sms"))
        except (KeyError, TypeError, ValueError):
            continue
    if sent:
        notes = (await s.scalars(select(Notification).where(Notification.id.in_(sent)))).all()
        out += [notification_usage(notification_event(n, sent[n.id])) for n in notes]
    if bookings:
        out += await booking_events_usage(s, city, bookings, strict=False)
    return out, last


async def meter_booking_event(city, event: dict, rt) -> int:
    """Count what a booking event bills (``guahao_booking_event``)."""
    if event.get("kind") not in BILLED_KINDS:
        return 0
    ids = None if event.get("kind") in REFUND_KINDS else [u.source_id for u in booking_usage(city, event, "")]
    if ids == []:
        return 0

    async def own(s):
        return await booking_events_usage(s, city, [event])

    return await batch.meter(rt, city, ids, own, _waiting(city))


async def meter_notification(city, notification: dict, rt) -> int:
    """Count a delivered message (``guahao_notification_sent``); an SMS in 70-character segments."""
    return await _meter(rt, city, [notification_usage(notification)])


async def meter_member_event(city, event: dict, rt) -> int:
    """Count a registration (``guahao_member_event`` of kind ``registered``)."""
    return await _meter(rt, city, member_usage(event))


async def meter_reported(city, usage: dict, rt) -> int:
    """Count what was reported (``guahao_usage_reported``); unknown meters are refused."""
    return await _meter(rt, city, [reported_usage(usage)])


def _waiting(city):
    async def waiting(s, after: int):
        return await waiting_usage(s, city, after)

    return waiting


async def _meter(rt, city, items: list[Usage]) -> int:
    if not items:
        return 0

    async def own(s):
        return list(items)

    return await batch.meter(rt, city, [i.source_id for i in items], own, _waiting(city))
