"""What Stripe says about refunds after they were asked for: a pending refund that succeeded
or failed (``refund.updated``, ``refund.failed``, ``charge.refund.updated``) and a payment
refunded outside the platform, in Stripe's Dashboard (``charge.refunded``).

A refund the outbox job started is ``pending`` for some payment methods (wallets, bank
debits): the booking stays ``paid`` until Stripe reports it ``succeeded``, then becomes
``refunded``. A refund that fails or is cancelled leaves (or puts back) the booking ``paid``
with a ``refund_failed`` event: the money is still held and staff must give it back another
way. Every change runs in the webhook's transaction, beside the stored event.
"""

from __future__ import annotations

import logging
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.booking import events
from guahao.core.models import Booking, BookingEvent
from guahao.core.payments import REFUNDED
from guahao.tenants.clock import utcnow

from .provider import NAME

log = logging.getLogger("guahao.stripe")

REFUND_EVENTS = ("refund.updated", "refund.failed", "charge.refund.updated")
CHARGE_REFUNDED = "charge.refunded"
SUCCEEDED = "refund_succeeded"  # booking event kinds: data provider, payment_ref, refund_ref, amount_fen…
FAILED = "refund_failed"

Outcome = tuple[str, str, str]  # (outcome, booking id, detail)


def booking_ref(obj: Mapping, city_slug: str) -> str:
    """The booking a refund or charge belongs to, from the metadata the platform set (empty
    when it names none, or another city's)."""
    metadata = obj.get("metadata") or {}
    if metadata.get("city") not in (None, city_slug):
        return ""
    return str(metadata.get("booking_ref") or "")[:24]


async def _booking_and_history(s: AsyncSession, ref: str) -> tuple[Booking | None, list[BookingEvent]]:
    booking = await s.scalar(select(Booking).where(Booking.id == ref).with_for_update())
    if booking is None:
        return None, []
    history = (
        await s.scalars(
            select(BookingEvent)
            .where(BookingEvent.booking_id == ref, BookingEvent.kind.in_((REFUNDED, SUCCEEDED, FAILED)))
            .order_by(BookingEvent.id)
        )
    ).all()
    return booking, list(history)


def _refund_ref(event: BookingEvent) -> str:
    return str((event.data or {}).get("refund_ref") or "")


async def refund_changed(s: AsyncSession, city_slug: str, refund: Mapping) -> Outcome:
    """A refund's status changed at Stripe: settle the booking's refund accordingly."""
    ref, refund_id, status = booking_ref(refund, city_slug), str(refund.get("id", "")), str(refund.get("status", ""))
    if not ref:
        return "ignored", "", "the refund names no booking of this city"
    if status not in ("succeeded", "failed", "canceled"):
        return "ignored", ref, f"refund {refund_id} is {status}"
    booking, history = await _booking_and_history(s, ref)
    if booking is None:
        return "ignored", ref, "no such booking"
    kind = SUCCEEDED if status == "succeeded" else FAILED
    if any(e.kind == kind and _refund_ref(e) == refund_id for e in history):
        return "duplicate", ref, ""
    asked = next((e for e in history if e.kind == REFUNDED and _refund_ref(e) == refund_id), None)
    payment_ref = str((asked.data or {}).get("payment_ref")) if asked else booking.payment_ref
    current = booking.payment_ref == payment_ref
    now = utcnow()
    if status == "succeeded":
        if current:
            booking.payment_status = "refunded"
        outcome, detail = "refunded", ""
    else:
        if current and booking.payment_status == "refunded":
            booking.payment_status = "paid"  # the money is back with the hospital's account
        reason = str(refund.get("failure_reason") or "")
        outcome, detail = "refund_failed", f"refund {refund_id} {status}" + (f": {reason}" if reason else "")
        log.error("Stripe refund %s of booking %s %s (%s): the fee is still to be given back",
                  refund_id, ref, status, reason or "no reason given")
    booking.updated_at = now
    events.record(
        s, booking, kind, at=now, actor=f"payment:{NAME}",
        data={"provider": NAME, "payment_ref": payment_ref, "refund_ref": refund_id,
              "amount_fen": int(refund.get("amount") or 0), "status": status,
              **({"failure_reason": str(refund.get("failure_reason"))} if refund.get("failure_reason") else {})},
    )
    await events.write(s)
    return outcome, ref, detail


async def charge_refunded(s: AsyncSession, city_slug: str, charge: Mapping) -> Outcome:
    """A charge was refunded in full. Refunds the platform asked for are settled by the refund
    events; one made in Stripe's Dashboard is recorded here and marks the booking refunded."""
    ref = booking_ref(charge, city_slug)
    if not ref:
        return "ignored", "", "the charge names no booking of this city"
    if not charge.get("refunded"):
        return "ignored", ref, f"partly refunded: {charge.get('amount_refunded')} of {charge.get('amount')}"
    booking, history = await _booking_and_history(s, ref)
    if booking is None:
        return "ignored", ref, "no such booking"
    if booking.payment_status != "paid" or any(
        e.kind == REFUNDED and (e.data or {}).get("payment_ref") == booking.payment_ref for e in history
    ):
        return "ignored", ref, "a refund the platform asked for"
    now = utcnow()
    booking.payment_status = "refunded"
    booking.updated_at = now
    events.record(
        s, booking, REFUNDED, at=now, actor=f"payment:{NAME}",
        data={"provider": NAME, "payment_ref": booking.payment_ref, "refund_ref": "",
              "amount_fen": int(charge.get("amount_refunded") or 0), "status": "refunded",
              "reason": "refunded_at_stripe"},
    )
    await events.write(s)
    log.warning("booking %s was refunded in Stripe's Dashboard (charge %s)", ref, charge.get("id"))
    return "refunded", ref, "refunded at Stripe"
