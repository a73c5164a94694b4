"""Giving back the money of a fee order (the ``payment.refund`` outbox work when its
``booking_id`` is a fee order reference): the HIS refused the payment, the items were paid by
another order, or one order was paid twice; or the items a hospital took back
(``returns.refund_items``: a partial refund named by its key). Idempotent: a refund recorded on
the order is not asked for again, and providers key refunds on the payment and the name."""

from __future__ import annotations

import logging

from sqlalchemy import select

from guahao.core import metrics
from guahao.core.models import FeeOrder
from guahao.tenants.clock import utcnow

from ..providers import refund_named
from ..refunds import ProviderMissing
from .orders import payable
from .returns import settle_refund

log = logging.getLogger("guahao.payments.fees")


async def refund_fee_order(rt, plugins, payload: dict) -> None:
    """Refund ``amount_fen`` of the payment ``payment_ref`` of a fee order; the order becomes
    ``refunded`` when that was its own payment and the provider gave the money back at once
    (``refunding`` while the provider is still settling it)."""
    order_id, payment_ref = payload["booking_id"], str(payload.get("payment_ref") or "")
    key = str(payload.get("refund_key") or "")
    async with rt.db.transaction() as s:
        order = await s.scalar(select(FeeOrder).where(FeeOrder.id == order_id))
    if order is None:
        log.warning("refund for unknown fee order %s dropped", order_id)
        return
    if key:
        return await _refund_returned_items(rt, plugins, order, key, payload)
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


async def _refund_returned_items(rt, plugins, order: FeeOrder, key: str, payload: dict) -> None:
    """The partial refund ``key`` of returned items (``returns.refund_items``), once."""
    mine = [i for i in order.items if (i.get("refund") or {}).get("key") == key]
    if not mine or all(i["refund"].get("status") == "refunded" for i in mine):
        return
    provider = plugins.payment_provider(order.provider)
    if provider is None:
        raise ProviderMissing(f"payment provider {order.provider!r} is not enabled in this city")
    amount = int(payload.get("amount_fen") or sum(int(i.get("amount_fen") or 0) for i in mine))
    settings, secrets = plugins.config_of(provider, order.hospital_id)
    with metrics.provider_call("payment", provider.name, "refund"):
        result = await refund_named(provider, payable(order), amount, settings, secrets, key)
    async with rt.db.transaction() as s:
        order = await s.scalar(select(FeeOrder).where(FeeOrder.id == order.id).with_for_update())
        status = "refunded" if result.status in ("refunded", "nothing_to_refund") else "pending"
        settle_refund(order, key, status=status, ref=result.reference or f"{order.payment_ref}-{key}")
