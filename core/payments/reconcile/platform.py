"""The platform's side of a day: the payments and refunds its bookings recorded with one
provider, read from the booking events (``paid``, ``paid_late``; ``refunded``,
``refund_succeeded``, ``refund_failed``), and those of in-clinic fee orders, read from the
orders themselves (``paid_at``; a refund's ``refund_ref`` and status).

A payment's day is the day its ``paid`` event was written; a refund's, the day it was settled
(``refunded`` with status ``refunded``, or ``refund_succeeded``), else the day it was asked for.
Days are the city's local days.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Booking, BookingEvent, FeeOrder

PAYMENT_KINDS = ("paid", "paid_late")
REFUND_KINDS = ("refunded", "refund_succeeded", "refund_failed")


@dataclass
class Record:
    """One payment or refund as the platform recorded it."""

    kind: str  # payment | refund
    booking_id: str
    hospital_id: int | None
    our_ref: str  # the booking's payment_ref the provider was given
    refund_ref: str  # a refund's reference (the provider's id or the merchant's refund number)
    amount_fen: int
    status: str  # paid | refunded | pending | failed
    at: datetime
    matched: bool = False


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The start and end (exclusive) of a local day."""
    start = datetime.combine(day, time.min, tzinfo=tz)
    return start, start + timedelta(days=1)


def _refund_status(event: BookingEvent) -> str:
    data = event.data or {}
    if event.kind == "refund_succeeded":
        return "refunded"
    if event.kind == "refund_failed":
        return "failed"
    return str(data.get("status") or "pending")


def records_of(events: list[BookingEvent], bookings: dict[str, Booking], provider: str) -> list[Record]:
    """The provider's payments and refunds in ``events`` (of ``bookings``), oldest first: one
    record per payment, one per refund (its later events settle its status and day)."""
    out: list[Record] = []
    refunds: dict[tuple[str, str], Record] = {}
    for e in sorted(events, key=lambda e: (e.at, e.id or 0)):
        data = e.data or {}
        if str(data.get("provider") or "") != provider:
            continue
        booking = bookings.get(e.booking_id)
        hospital_id = booking.hospital_id if booking is not None else None
        if e.kind in PAYMENT_KINDS:
            amount = data.get("amount_fen")
            out.append(Record(
                "payment", e.booking_id, hospital_id, str(data.get("payment_ref") or ""), "",
                int(amount if amount is not None else (booking.fee_fen if booking is not None else 0)), "paid", e.at,
            ))
            continue
        refund_ref = str(data.get("refund_ref") or "")
        key = (e.booking_id, refund_ref or f"{data.get('payment_ref', '')}:{data.get('amount_fen', '')}")
        status = _refund_status(e)
        record = refunds.get(key)
        if record is None:
            record = refunds[key] = Record(
                "refund", e.booking_id, hospital_id, str(data.get("payment_ref") or ""), refund_ref,
                int(data.get("amount_fen") or 0), status, e.at,
            )
            out.append(record)
            continue
        if status == "refunded" and record.status != "refunded":
            record.at = e.at  # settled now: the refund belongs to this day
        record.status = status
        if data.get("amount_fen"):
            record.amount_fen = int(data["amount_fen"])
    return out


async def platform_records(
    s: AsyncSession, provider: str, day: date, tz: ZoneInfo, *, also: Collection[str] = ()
) -> tuple[list[Record], list[Record]]:
    """``(of_the_day, others)``: the provider's payments and refunds of ``day``, and those of
    the bookings ``also`` (booking ids or payment references a statement names) of other days."""
    start, end = day_bounds(day, tz)
    kinds = PAYMENT_KINDS + REFUND_KINDS
    booking_ids: set[str] = set()
    if also:
        found = (await s.scalars(select(Booking.id).where(or_(Booking.id.in_(also), Booking.payment_ref.in_(also))))).all()
        booking_ids = set(found)
    # the day's events, with a margin: a refund asked for earlier may be settled today
    window = select(BookingEvent).where(BookingEvent.kind.in_(kinds), BookingEvent.at >= start - timedelta(days=1),
                                        BookingEvent.at < end)
    events = list((await s.scalars(window)).all())
    ids = {e.booking_id for e in events} | booking_ids
    if ids:
        events += (await s.scalars(select(BookingEvent).where(BookingEvent.kind.in_(kinds),
                                                               BookingEvent.booking_id.in_(ids)))).all()
    unique = {e.id: e for e in events}
    bookings = {b.id: b for b in (await s.scalars(select(Booking).where(Booking.id.in_(ids)))).all()} if ids else {}
    records = records_of(list(unique.values()), bookings, provider)
    records += await fee_records(s, provider, start - timedelta(days=1), end, also)
    of_day = [r for r in records if start <= r.at < end]
    return of_day, [r for r in records if not start <= r.at < end]


async def fee_records(
    s: AsyncSession, provider: str, start: datetime, end: datetime, also: Collection[str] = ()
) -> list[Record]:
    """The provider's payments and refunds of fee orders paid or changed in ``[start, end)``,
    and of the orders ``also`` names (order ids or payment references)."""
    took_money = FeeOrder.status.in_(("paid", "refunding", "refunded"))
    near = or_(FeeOrder.paid_at.between(start, end), FeeOrder.updated_at.between(start, end))
    named = or_(FeeOrder.id.in_(also), FeeOrder.payment_ref.in_(also)) if also else None
    where = near if named is None else or_(near, named)
    orders = (await s.scalars(select(FeeOrder).where(FeeOrder.provider == provider, took_money, where))).all()
    out: list[Record] = []
    for o in orders:
        paid_at = o.paid_at or o.updated_at
        out.append(Record("payment", o.id, o.hospital_id, o.payment_ref, "", o.amount_fen, "paid", paid_at))
        if o.refund_ref:
            out.append(Record("refund", o.id, o.hospital_id, o.payment_ref, o.refund_ref, o.amount_fen,
                              "refunded" if o.status == "refunded" else "pending", o.updated_at))
    return out


async def bookings_by_ref(s: AsyncSession, refs: set[str]) -> dict[str, Booking]:
    """Bookings whose id or payment reference is in ``refs``, by both."""
    if not refs:
        return {}
    rows = (await s.scalars(select(Booking).where(or_(Booking.id.in_(refs), Booking.payment_ref.in_(refs))))).all()
    out: dict[str, Booking] = {}
    for b in rows:
        out[b.id] = b
        if b.payment_ref:
            out[b.payment_ref] = b
    return out
