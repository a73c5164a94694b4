"""Refunds Alipay reports in its notifies (``refund_fee`` = the trade's refunded total so far,
``gmt_refund``, ``out_biz_no`` = the refund's ``out_request_no``), in whatever order they come.

- A refund the platform asked for (a ``refunded`` event of the trade exists) is settled:
  ``refund_succeeded`` is recorded and the booking becomes ``refunded`` once the whole fee is back.
- A full refund nobody here asked for (made in Alipay's merchant console, or one whose answer
  was lost) is recorded as the trade's ``refunded`` event, so no refund job gives it back twice.
- A partial refund nobody here asked for is recorded (``refund_succeeded``) and leaves the
  booking paid: whatever is still owed can still be refunded.
- A refund notice that comes before its payment notice first records the payment (the refund
  proves the trade was paid), through the same core path the payment notice takes.
"""

from __future__ import annotations

from typing import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import payments
from guahao.core.booking import events
from guahao.core.models import Booking, BookingEvent
from guahao.core.payments import REFUNDED
from guahao.plugin_api import utcnow

from .provider import NAME

SUCCEEDED = "refund_succeeded"


async def refund_notice(s: AsyncSession, booking_id: str, trade: str, total_fen: int, refunded_fen: int,
                        fields: Mapping[str, str]) -> tuple[str, str]:
    """Settle a refund notice in the caller's transaction; returns ``(outcome, detail)``.
    Raises the ``DomainError`` of ``payment_received`` (amount mismatch) for the caller to refuse."""
    booking = await s.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())
    if booking is None:
        return "ignored", "no such booking"
    detail = ""
    if not (booking.payment_ref == trade and booking.payment_status in ("paid", "refunded")):
        first = await payments.payment_received(s, booking_id, provider=NAME, payment_ref=trade, amount_fen=total_fen)
        detail = f"payment recorded first: {first}"
        booking = await s.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())
    request_no = str(fields.get("out_biz_no") or "")[:64]
    history = (await s.scalars(select(BookingEvent).where(
        BookingEvent.booking_id == booking_id, BookingEvent.kind.in_((REFUNDED, SUCCEEDED))))).all()
    of_trade = [e for e in history if (e.data or {}).get("payment_ref") == trade]
    if any(e.kind == SUCCEEDED and (e.data or {}).get("refund_ref") == request_no
           and (e.data or {}).get("refunded_fen") == refunded_fen for e in of_trade):
        return "duplicate", detail
    full = refunded_fen >= total_fen
    asked = any(e.kind == REFUNDED for e in of_trade)
    now = utcnow()
    data = {"provider": NAME, "payment_ref": trade, "refund_ref": request_no, "refunded_fen": refunded_fen,
            "amount_fen": refunded_fen, "status": "succeeded", "gmt_refund": str(fields.get("gmt_refund") or "")[:32]}
    if full and not asked:
        events.record(s, booking, REFUNDED, at=now, actor=f"payment:{NAME}", data={**data, "reason": "refunded_at_alipay"})
    else:
        events.record(s, booking, SUCCEEDED, at=now, actor=f"payment:{NAME}", data=data)
    if full and booking.payment_ref == trade:
        booking.payment_status = "refunded"
    booking.updated_at = now
    await events.write(s)
    return ("refunded" if full else "partly_refunded"), detail
