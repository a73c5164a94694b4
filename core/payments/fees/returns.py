"""Returned items of a paid fee order (a drug taken back at the pharmacy, an exam not done):
their money goes back as a partial refund, named so a retried job never refunds twice.

A refund is recorded on the items it covers (``item["refund"]``: ``key``, ``status``
``requested`` → ``refunded`` / ``pending`` / ``failed``, the provider's ``ref``, ``reason``,
``by``, ``at``) and carried out by the ``payment.refund`` outbox work (``refund_key`` in its
payload); the HIS is told through ``his.push`` (action ``refund`` of kind ``fees``). When every
item of an order has gone back, the order is ``refunding`` and then ``refunded``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit, outbox
from guahao.core.errors import Conflict
from guahao.core.models import FeeOrder
from guahao.tenants.clock import utcnow

from . import errors

REQUESTED = "requested"


def refund_keys(order: FeeOrder) -> set[str]:
    return {str(i["refund"]["key"]) for i in order.items if i.get("refund")}


def refunded_fen(order: FeeOrder) -> int:
    """What has gone back of the order's items so far (refunds the provider confirmed)."""
    return sum(int(i.get("amount_fen") or 0) for i in order.items if (i.get("refund") or {}).get("status") == "refunded")


async def refund_items(
    s: AsyncSession, order_id: str, item_ids: list[str], *, actor: audit.Actor, reason: str, hospital_id: int | None = None
) -> str:
    """Give back the chosen items of a paid order (``hospital_id``: a hospital's staff may only
    touch its own orders). Returns the refund's key. Refuses ``not_found``, ``no_fee_items``,
    ``fee_not_refundable`` (the order is not paid) and ``fee_items_changed`` (an item is not the
    order's, or went back already)."""
    q = select(FeeOrder).where(FeeOrder.id == order_id)
    if hospital_id is not None:
        q = q.where(FeeOrder.hospital_id == hospital_id)
    order = await s.scalar(q.with_for_update())
    if order is None:
        raise errors.FeeOrderNotFound()
    chosen = {str(i) for i in item_ids if str(i).strip()}
    if not chosen:
        raise errors.no_fee_items()
    if order.status != "paid":
        raise Conflict("fee_not_refundable", "该缴费订单当前不能退费（未支付或已全部退回）。", details={"status": order.status})
    open_ids = {str(i.get("item_id")) for i in order.items if not i.get("refund")}
    if not chosen <= open_ids:
        raise errors.fee_items_changed(sorted(chosen - open_ids))
    now = utcnow()
    key = f"R{len(refund_keys(order)) + 1}"
    note = {"key": key, "status": REQUESTED, "ref": "", "reason": reason[:200], "by": actor.name or actor.label,
            "at": now.isoformat()}
    order.items = [{**i, "refund": dict(note)} if str(i.get("item_id")) in chosen else i for i in order.items]
    amount = sum(int(i.get("amount_fen") or 0) for i in order.items if str(i.get("item_id")) in chosen)
    if all(i.get("refund") for i in order.items):
        order.status = "refunding"
    order.updated_at = now
    outbox.emit(s, "payment.refund", {"booking_id": order.id, "provider": order.provider, "payment_ref": order.payment_ref,
                                      "amount_fen": amount, "reason": "items_returned", "refund_key": key})
    if order.booking_id:
        outbox.emit(s, "his.push", {"booking_id": order.booking_id, "action": "refund", "refund": {
            "kind": "fees", "provider": order.provider, "reference": f"{order.id}-{key}", "payment_reference": order.id,
            "amount_fen": amount, "items": sorted(chosen)}})
    audit.record(s, actor, "fees.refund_items", target_type="fee_order", target_id=order.id,
                 summary=f"诊间缴费退费 {order.id} {key}：{len(chosen)} 项，{amount} 分（{reason[:60]}）")
    return key


def settle_refund(order: FeeOrder, key: str, *, status: str, ref: str) -> None:
    """Record the provider's answer to the refund ``key`` on its items; the whole order is
    ``refunded`` once every item's money is back."""
    order.items = [{**i, "refund": {**i["refund"], "status": status, "ref": ref[:120]}}
                   if (i.get("refund") or {}).get("key") == key else i for i in order.items]
    if all((i.get("refund") or {}).get("status") == "refunded" for i in order.items):
        order.status = "refunded"
    order.updated_at = utcnow()


async def refund_notice(s: AsyncSession, order_id: str, *, payment_ref: str, refund_ref: str, succeeded: bool) -> str:
    """A provider's word on a refund of a fee order that was still under way (its refund
    number ``refund_ref`` ends with ``R<key>`` for a named refund of returned items, else it is
    the whole order's). Returns ``refunded``, ``refund_failed``, ``duplicate`` (known already)
    or ``ignored`` (no such order or payment)."""
    order = await s.scalar(select(FeeOrder).where(FeeOrder.id == order_id).with_for_update())
    if order is None or order.payment_ref != payment_ref:
        return "ignored"
    keys = sorted(refund_keys(order), key=len, reverse=True)
    key = next((k for k in keys if refund_ref.endswith(f"R{k}")), "")
    status = "refunded" if succeeded else "failed"
    if key:
        mine = [i for i in order.items if (i.get("refund") or {}).get("key") == key]
        if all(i["refund"].get("status") == status for i in mine):
            return "duplicate"
        settle_refund(order, key, status=status, ref=refund_ref)
    elif order.status == "refunding":
        order.status = "refunded" if succeeded else "paid"  # failed: the money is still the merchant's
        order.refund_ref, order.updated_at = (refund_ref[:120] if succeeded else ""), utcnow()
    else:
        return "duplicate" if order.status == "refunded" and succeeded else "ignored"
    return "refunded" if succeeded else "refund_failed"
