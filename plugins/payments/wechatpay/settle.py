"""Acting on a verified, decrypted WeChat Pay notification, once.

``TRANSACTION.SUCCESS`` confirms the held booking through the core path every provider uses
(``core.payments.payment_received``): within the hold the booking is confirmed; after it, or
when the booking was already paid another way, the money goes back through the outbox
(``payment.refund``). ``REFUND.SUCCESS`` / ``REFUND.ABNORMAL`` / ``REFUND.CLOSED`` settle a
refund: a full refund that succeeded marks the payment refunded, a failed one leaves (or puts
back) the booking paid with a ``refund_failed`` event for staff. A refund notice for a payment
the platform has not heard of yet is kept (``early``) and applied right after that payment's
notice. Each notification id is acted on once per city (``wechatpay_notifications``).
"""

from __future__ import annotations

import logging
from typing import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import payments
from guahao.core.booking import events
from guahao.core.booking.inventory import released_periods
from guahao.core.booking.service import clear_gate
from guahao.core.errors import DomainError
from guahao.core.models import Booking, BookingEvent
from guahao.core.payments import REFUNDED, fees
from guahao.tenants.clock import utcnow

from . import trade
from .client import NAME
from .models import WechatpayNotification

log = logging.getLogger("guahao.wechatpay")

PAID = "TRANSACTION.SUCCESS"
REFUND_KINDS = {"REFUND.SUCCESS": "SUCCESS", "REFUND.ABNORMAL": "ABNORMAL", "REFUND.CLOSED": "CLOSED"}
SUCCEEDED, FAILED = "refund_succeeded", "refund_failed"
Outcome = tuple[str, str, str]  # outcome, booking id, detail


class _Refused(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def _row(notice: Mapping, plain: Mapping, booking_id: str, outcome: str, detail: str = "") -> WechatpayNotification:
    amount = plain.get("amount") or {}
    return WechatpayNotification(
        notify_id=str(notice.get("id", ""))[:64], event_type=str(notice.get("event_type", ""))[:40],
        out_trade_no=str(plain.get("out_trade_no") or "")[:32], out_refund_no=str(plain.get("out_refund_no") or "")[:64],
        booking_id=booking_id, amount_fen=int(amount.get("refund") or amount.get("total") or 0),
        outcome=outcome, detail=detail[:300],
    )


async def handle(rt, city, notice: Mapping, plain: Mapping, settings: Mapping,
                 mchid_of: Callable[[int], str] | None = None) -> Outcome:
    """Act on one notification once; returns ``(outcome, booking id, detail)``. ``settings``
    are the merchant account's that signed it; ``mchid_of(hospital_id)`` names the merchant a
    hospital's bookings are paid to (a notice from another merchant is refused)."""
    notify_id, kind = str(notice.get("id", "")), str(notice.get("event_type", ""))
    async with rt.db.transaction() as s:
        if await s.scalar(select(WechatpayNotification.id).where(WechatpayNotification.notify_id == notify_id)):
            return "duplicate", "", ""
    booking_id = trade.booking_of(str(plain.get("out_trade_no") or ""))
    refusal = _refusal(kind, plain, settings, booking_id)
    try:
        async with rt.db.transaction() as s:
            if not refusal and mchid_of is not None and (kind == PAID or kind in REFUND_KINDS):
                hospital_id = await s.scalar(select(Booking.hospital_id).where(Booking.id == booking_id))
                if hospital_id is not None and mchid_of(hospital_id) != str(plain.get("mchid") or ""):
                    refusal = "the booking is paid to another merchant"
            if refusal:
                outcome, detail = ("ignored" if refusal.startswith("ignored:") else "refused"), refusal
            elif kind == PAID:
                outcome, detail = await _paid(s, booking_id, plain), ""
            elif kind in REFUND_KINDS:
                outcome, detail = await _refund_notice(s, booking_id, plain)
            else:
                outcome, detail = "ignored", f"event {kind}"
            s.add(_row(notice, plain, booking_id, outcome, detail))
            freed = released_periods(s)
    except _Refused as refused:  # the change rolled back; the refusal itself is kept
        outcome, detail, freed = "refused", refused.detail, set()
        try:
            async with rt.db.transaction() as s:
                s.add(_row(notice, plain, booking_id, outcome, detail))
        except IntegrityError:
            return "duplicate", booking_id, ""
    except IntegrityError:  # the same notification twice at once: the other one acted
        return "duplicate", booking_id, ""
    if outcome == "refused":
        log.error("WeChat Pay notification %s (%s) for booking %s refused: %s", notify_id, kind, booking_id, detail)
    await clear_gate(rt, city, freed)
    return outcome, booking_id, detail


def _refusal(kind: str, plain: Mapping, settings: Mapping, booking_id: str) -> str:
    if kind != PAID and kind not in REFUND_KINDS:
        return ""
    if str(plain.get("mchid") or "") != str(settings.get("mchid") or ""):
        return "the notification is for another merchant"
    if not booking_id:
        return f"ignored: order {plain.get('out_trade_no')!r} is not one of this platform's"
    if kind == PAID:
        if plain.get("appid") != settings.get("appid"):
            return "the notification is for another appid"
        if plain.get("trade_state") != "SUCCESS":
            return f"ignored: trade_state {plain.get('trade_state')}"
        currency = str((plain.get("amount") or {}).get("currency") or "CNY")
        if currency != "CNY":
            return f"currency {currency!r} is not CNY"
    return ""


async def _paid(s: AsyncSession, booking_id: str, plain: Mapping) -> str:
    trade_no = str(plain["out_trade_no"])
    total = int((plain.get("amount") or {}).get("total") or 0)
    try:
        outcome = await payments.payment_received(s, booking_id, provider=NAME, payment_ref=trade_no, amount_fen=total)
    except DomainError as exc:
        raise _Refused(f"{exc.code}: {exc.message}") from None
    early = (await s.scalars(select(WechatpayNotification).where(
        WechatpayNotification.out_trade_no == trade_no, WechatpayNotification.outcome == "early"))).all()
    for row in early:  # refunds WeChat Pay told of before this payment: apply them now
        booking = await s.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())
        status = "SUCCESS" if row.event_type == "REFUND.SUCCESS" else REFUND_KINDS.get(row.event_type, "")
        await _settle(s, booking, trade_no, {"out_trade_no": trade_no, "out_refund_no": row.out_refund_no,
                                             "refund_status": status, "amount": {"refund": row.amount_fen, "total": total}})
        row.outcome, row.detail = "applied", (row.detail + " · applied after the payment notice")[:300]
    return outcome


async def _refund_notice(s: AsyncSession, booking_id: str, plain: Mapping) -> tuple[str, str]:
    trade_no = str(plain["out_trade_no"])
    if fees.is_fee_ref(booking_id):  # an in-clinic fee order's refund
        outcome = await fees.refund_notice(s, booking_id, payment_ref=trade_no, refund_ref=str(plain.get("out_refund_no") or ""),
                                           succeeded=str(plain.get("refund_status") or "") == "SUCCESS")
        return outcome, "" if outcome != "ignored" else "no such fee order or payment"
    booking = await s.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())
    if booking is None:
        return "ignored", "no such booking"
    known = booking.payment_ref == trade_no and booking.payment_status in ("paid", "refunded")
    if not known:
        paid = (await s.scalars(select(BookingEvent).where(
            BookingEvent.booking_id == booking_id, BookingEvent.kind.in_(("paid", "paid_late"))))).all()
        known = any((e.data or {}).get("payment_ref") == trade_no for e in paid)
    if not known:
        return "early", f"refund {plain.get('out_refund_no')} {plain.get('refund_status')} before the payment notice"
    return await _settle(s, booking, trade_no, plain)


async def _settle(s: AsyncSession, booking: Booking, trade_no: str, plain: Mapping) -> tuple[str, str]:
    """Record what a refund notice says on the booking (its refund events, its payment status)."""
    status, refund_no = str(plain.get("refund_status") or ""), str(plain.get("out_refund_no") or "")
    amount = plain.get("amount") or {}
    refunded, total = int(amount.get("refund") or 0), int(amount.get("total") or booking.fee_fen)
    kind = SUCCEEDED if status == "SUCCESS" else FAILED
    history = (await s.scalars(select(BookingEvent).where(
        BookingEvent.booking_id == booking.id, BookingEvent.kind.in_((REFUNDED, SUCCEEDED, FAILED))))).all()
    if any(e.kind == kind and (e.data or {}).get("refund_ref") == refund_no for e in history):
        return "duplicate", ""
    current = booking.payment_ref == trade_no
    now = utcnow()
    data = {"provider": NAME, "payment_ref": trade_no, "refund_ref": refund_no, "refund_id": str(plain.get("refund_id") or ""),
            "amount_fen": refunded, "status": status}
    if kind == SUCCEEDED:
        outcome, detail = "refunded", "" if refunded >= total else f"partial refund {refunded} of {total}"
        if current and refunded >= total:
            booking.payment_status = "refunded"
        ours = refund_no.startswith(f"{trade_no}-R")
        if not ours and not any(e.kind == REFUNDED and (e.data or {}).get("payment_ref") == trade_no for e in history):
            # Refunded in the merchant platform, not by the platform: nothing more to give back.
            events.record(s, booking, REFUNDED, at=now, actor=f"payment:{NAME}",
                          data={**data, "status": "refunded", "reason": "refunded_at_wechatpay"})
            log.warning("booking %s was refunded in the WeChat Pay merchant platform (%s)", booking.id, refund_no)
    else:
        if current and booking.payment_status == "refunded":
            booking.payment_status = "paid"  # the money is still with the merchant
        outcome, detail = "refund_failed", f"refund {refund_no} {status}"
        log.error("WeChat Pay refund %s of booking %s is %s: the fee is still to be given back", refund_no, booking.id, status)
    booking.updated_at = now
    events.record(s, booking, kind, at=now, actor=f"payment:{NAME}", data=data)
    await events.write(s)
    return outcome, detail
