"""Giving back the money of a fee order (the ``payment.refund`` outbox work when its
``booking_id`` is a fee order reference): the HIS refused the payment, the items were paid by
another order, or one order was paid twice. Idempotent: a refund recorded on the order is not
asked for again, and providers key refunds on the payment."""

from __future__ import annotations

import logging

from sqlalchemy import select

from guahao.core import metrics
from guahao.core.models import FeeOrder
from guahao.tenants.clock import utcnow

from ..refunds import ProviderMissing
from .orders import payable

log = logging.getLogger("guahao.payments.fees")


async def refund_fee_order(rt, plugins, payload: dict) -> None:
    """Refund ``amount_fen`` of the payment ``payment_ref`` of a fee order; the order becomes
    ``refunded`` when that was its own payment and the provider gave the money back at once
    (``refunding`` while the provider is still settling it)."""
    order_id, payment_ref = payload["booking_id"], str(payload.get("payment_ref") or "")
    async with rt.db.transaction() as s:
        order = await s.scalar(select(FeeOrder).where(FeeOrder.id == order_id))
    if order is None:
        log.warning("refund for unknown fee order %s dropped", order_id)
        return
    if payment_ref == order.payment_ref and order.refund_ref:
        return
    name = str(payload.get("provider") or order.provider)
    provider = plugins.payment_provider(name) if name else None
    if provider is None:
        raise ProviderMissing(f"payment provider {name!r} is not enabled in this city")
    amount = int(payload.get("amount_fen", order.amount_fen))
    record = payable(order)
    record.payment_ref, record.fee_fen = payment_ref, amount
    settings, secrets = plugins.config_of(provider, order.hospital_id)
    with metrics.provider_call("payment", provider.name, "refund"):
        result = await provider.refund(record, amount, settings, secrets)
    async with rt.db.transaction() as s:
        order = await s.scalar(select(FeeOrder).where(FeeOrder.id == order_id).with_for_update())
        if order.payment_ref == payment_ref:
            order.refund_ref = (result.reference or f"{payment_ref}-refund")[:120]
            order.status = "refunded" if result.status in ("refunded", "nothing_to_refund") else "refunding"
            order.updated_at = utcnow()
        else:
            log.info("fee order %s: second payment %s refunded (%s)", order_id, payment_ref, result.status)
