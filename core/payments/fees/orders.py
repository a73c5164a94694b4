"""Paying fee items online: an order per choice of items, paid through the city's online
provider like a booking's fee, then told to the hospital's HIS.

Providers know bookings; a fee order is handed to them as a detached booking-shaped record
(:func:`payable`: the order's reference as ``id``, its total as ``fee_fen``), so every provider
starts, confirms and refunds it through the code path it already has, and its callback reaches
:func:`fee_payment_received` through ``core.payments.payment_received``.

Rules: the items are checked against the HIS when the order starts (an item paid at the
cashier meanwhile, or withdrawn, refuses the order); the same choice asked again is the same
order (a double click pays once); money for items another order already paid, or a second
payment of one order, goes back (``payment.refund``); the HIS hears of the payment through the
outbox (``his.push``, action ``payment`` of kind ``fees`` on the visit's booking), and a HIS
that refuses it for good gets the money returned (:func:`his_refused`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import outbox
from guahao.core.booking import errors as booking_errors
from guahao.core.models import Booking, BookingStatus, FeeOrder, Hospital, Member
from guahao.core.plugins.interfaces import PaymentError, PaymentIntent
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from ..providers import online_provider, return_url_for
from . import errors
from .items import SETTLED, outstanding, paid_item_ids
from .refs import is_fee_ref, new_fee_ref

log = logging.getLogger("guahao.payments.fees")

CONFIRMED, DUPLICATE, REFUNDING = "confirmed", "duplicate", "refunding"
ORDER_MINUTES = 30  # how long a started order can be paid at the provider


def payable(order: FeeOrder) -> Booking:
    """The order as providers see a payment: a detached booking-shaped record, never flushed."""
    return Booking(
        id=order.id, member_id=order.member_id, hospital_id=order.hospital_id, fee_fen=order.amount_fen,
        status=BookingStatus.pending_payment if order.status == "pending" else BookingStatus.confirmed,
        hold_expires_at=order.expires_at, payment_provider=order.provider, payment_ref=order.payment_ref,
        payment_status="paid" if order.status in SETTLED else ("refunded" if order.status == "refunded" else "unpaid"),
        channel="web",
    )


def description(order: FeeOrder, hospital_name: str) -> str:
    names = "、".join(str(i.get("name", "")) for i in order.items[:3])
    more = f"等{len(order.items)}项" if len(order.items) > 3 else ""
    return f"诊间缴费 {hospital_name} {names}{more}"


async def member_order(rt, *, member_id: int, order_id: str) -> FeeOrder:
    """The member's own order (another member's gets ``not_found``)."""
    if not is_fee_ref(order_id):
        raise errors.FeeOrderNotFound()
    async with rt.db.transaction() as s:
        order = await s.scalar(select(FeeOrder).where(FeeOrder.id == order_id, FeeOrder.member_id == member_id))
    if order is None:
        raise errors.FeeOrderNotFound()
    return order


async def member_orders(rt, *, member_id: int, limit: int = 50) -> list[FeeOrder]:
    """The member's fee orders that took money (paid, refunding, refunded), newest first."""
    async with rt.db.transaction() as s:
        return list((await s.scalars(select(FeeOrder).where(
            FeeOrder.member_id == member_id, FeeOrder.status.in_(("paid", "refunding", "refunded")))
            .order_by(FeeOrder.created_at.desc()).limit(limit))).all())


async def create_order(rt, *, member_id: int, hospital_id: int, item_ids: list[str]) -> FeeOrder:
    """An order for the chosen items of one hospital, checked against what its HIS reports now.
    The same choice while an earlier order for it is still open gives that order back."""
    chosen = sorted({str(i) for i in item_ids if str(i).strip()})
    if not chosen:
        raise errors.no_fee_items()
    fees = await outstanding(rt, member_id=member_id, hospital_id=hospital_id)
    if fees and fees[0].unavailable:
        raise errors.fees_unavailable()
    open_items = {i.item_id: i for f in fees for i in f.items}
    missing = [i for i in chosen if i not in open_items]
    if missing:
        raise errors.fee_items_changed(missing)
    items = [open_items[i] for i in chosen]
    visits = {i.booking_id for i in items}
    key = "|".join(chosen)[:400]
    now = utcnow()
    async with rt.db.transaction() as s:
        same = await s.scalar(select(FeeOrder).where(
            FeeOrder.member_id == member_id, FeeOrder.hospital_id == hospital_id, FeeOrder.item_key == key,
            FeeOrder.status == "pending", FeeOrder.expires_at > now))
        if same is not None:
            return same
        booking_id = next(iter(visits)) if len(visits) == 1 else ""
        if booking_id and await s.scalar(select(Booking.id).where(
                Booking.id == booking_id, Booking.member_id == member_id)) is None:
            booking_id = ""  # a visit the HIS ties to someone else's booking is not linked
        order = FeeOrder(
            id=new_fee_ref(), member_id=member_id, hospital_id=hospital_id, booking_id=booking_id,
            visit_reference=items[0].visit_reference[:64], item_key=key,
            items=[{"item_id": i.item_id, "kind": i.kind, "name": i.name, "amount_fen": i.amount_fen,
                    "quantity": i.quantity, "department": i.department, "visit_reference": i.visit_reference}
                   for i in items],
            amount_fen=sum(i.amount_fen for i in items), expires_at=now + timedelta(minutes=ORDER_MINUTES),
            created_at=now, updated_at=now,
        )
        s.add(order)
    return order


async def start_fee_payment(rt, *, member_id: int, order_id: str, return_url: str) -> PaymentIntent:
    """Open the payment of the member's pending order with the city's online provider (the
    hospital's merchant settings apply). Asking again gives the same payment."""
    city = require_city()
    order = await member_order(rt, member_id=member_id, order_id=order_id)
    if order.status != "pending" or order.expires_at <= utcnow():
        raise errors.fee_order_closed(order.status if order.status != "pending" else "expired")
    async with rt.db.transaction() as s:
        hospital_name = await s.scalar(select(Hospital.name).where(Hospital.id == order.hospital_id)) or ""
        phone = await s.scalar(select(Member.phone).where(Member.id == member_id)) or ""
    plugins = await rt.plugins.for_city(city)
    provider = online_provider(plugins, order.provider or plugins.hospital_payment_provider(order.hospital_id))
    if provider is None:
        raise booking_errors.no_payment_provider()
    settings, secrets = plugins.config_of(provider, order.hospital_id)
    intent = await provider.prepare(payable(order), settings, secrets, return_url=return_url_for(provider, return_url, phone),
                                    description=description(order, hospital_name))
    async with rt.db.transaction() as s:
        order = await s.scalar(select(FeeOrder).where(FeeOrder.id == order.id).with_for_update())
        if order.status == "pending" and order.payment_ref != intent.reference:
            order.provider, order.payment_ref, order.updated_at = provider.name[:60], intent.reference[:120], utcnow()
    return intent


async def fee_payment_received(s: AsyncSession, order_id: str, *, provider: str, payment_ref: str, amount_fen: int) -> str:
    """The provider says ``amount_fen`` was paid for a fee order (in the caller's transaction).

    Returns ``confirmed`` (the order is paid and the HIS will be told), ``duplicate`` (seen
    before) or ``refunding`` (the order was paid another way, or its items by another order:
    the money goes back). Raises ``not_found`` or ``amount_mismatch``."""
    now = utcnow()
    order = await s.scalar(select(FeeOrder).where(FeeOrder.id == order_id).with_for_update())
    if order is None:
        raise errors.FeeOrderNotFound()
    if order.payment_ref == payment_ref and order.status in (*SETTLED, "refunded"):
        return DUPLICATE
    if amount_fen != order.amount_fen:
        raise booking_errors.amount_mismatch(order.id, order.amount_fen, amount_fen)
    if order.status in ("pending", "expired"):
        taken = await paid_item_ids(s, order.hospital_id)
        if not taken & {str(i.get("item_id")) for i in order.items}:
            order.status, order.provider, order.payment_ref = "paid", provider[:60], payment_ref[:120]
            order.paid_at = order.updated_at = now
            if order.booking_id:
                order.his_status = "pending"
                outbox.emit(s, "his.push", {"booking_id": order.booking_id, "action": "payment", "payment": {
                    "kind": "fees", "provider": provider, "reference": order.id, "payment_reference": payment_ref,
                    "amount_fen": amount_fen, "items": [str(i.get("item_id")) for i in order.items]}})
            return CONFIRMED
        order.status, order.provider, order.payment_ref, order.updated_at = "refunding", provider[:60], payment_ref[:120], now
        reason = "items_already_paid"
    else:
        reason = "paid_twice"  # the order keeps its first payment; this one goes back
    outbox.emit(s, "payment.refund", {"booking_id": order.id, "provider": provider, "payment_ref": payment_ref,
                                      "amount_fen": amount_fen, "reason": reason})
    log.warning("fee order %s: payment %s of %s fen goes back (%s)", order.id, payment_ref, amount_fen, reason)
    return REFUNDING


async def check_fee_payment(rt, *, member_id: int, order_id: str) -> str | None:
    """Ask the provider about the member's started order (back from its page before the
    callback came). Returns the outcome of :func:`fee_payment_received` when paid, else ``None``."""
    city = require_city()
    order = await member_order(rt, member_id=member_id, order_id=order_id)
    if order.status != "pending" or not (order.provider and order.payment_ref):
        return None
    plugins = await rt.plugins.for_city(city)
    provider = plugins.payment_provider(order.provider)
    if provider is None:
        return None
    settings, secrets = plugins.config_of(provider, order.hospital_id)
    try:
        result = await provider.execute(payable(order), settings, secrets)
    except PaymentError as exc:  # the provider is unreachable: its callback decides
        log.info("fee order %s not confirmed by %s yet: %s", order.id, order.provider, exc)
        return None
    if result.status != "paid":
        return None
    try:
        async with rt.db.transaction() as s:
            return await fee_payment_received(s, order.id, provider=provider.name, payment_ref=result.payment_ref,
                                              amount_fen=result.amount_fen)
    except IntegrityError:
        return DUPLICATE


async def his_refused(s: AsyncSession, order_id: str, detail: str) -> None:
    """The HIS refused an order's payment for good: record why and give the money back."""
    order = await s.scalar(select(FeeOrder).where(FeeOrder.id == order_id).with_for_update())
    if order is None or order.his_status == "refused":
        return
    order.his_status, order.his_detail, order.updated_at = "refused", detail[:300], utcnow()
    if order.status == "paid":
        order.status = "refunding"
        outbox.emit(s, "payment.refund", {"booking_id": order.id, "provider": order.provider,
                                          "payment_ref": order.payment_ref, "amount_fen": order.amount_fen,
                                          "reason": "his_refused"})


async def his_accepted(s: AsyncSession, order_id: str, reference: str) -> None:
    order = await s.scalar(select(FeeOrder).where(FeeOrder.id == order_id).with_for_update())
    if order is not None and order.his_status in ("", "pending"):
        order.his_status, order.his_detail, order.updated_at = "accepted", reference[:300], utcnow()
