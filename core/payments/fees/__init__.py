"""In-clinic fee payment (诊间支付, R6): a member pays a visit's drug and exam charges online
instead of queueing at the cashier.

- ``items``: what the member owes, as each visited hospital's HIS reports it (``outstanding``).
- ``orders``: an order per choice of items, paid through the city's online provider
  (``create_order``, ``start_fee_payment``, ``check_fee_payment``), confirmed by the provider's
  word (``fee_payment_received``, reached from ``core.payments.payment_received``) and told to
  the HIS through the outbox; ``his_accepted`` / ``his_refused`` record the HIS's answer.
- ``returns``: items a hospital took back (a returned drug) refunded in part (``refund_items``).
- ``refunds``: money of an order given back (``refund_fee_order``, the ``payment.refund`` work).
- ``refs``: order references (``FP…``), told apart from booking references by shape.
"""

from .items import HospitalFees, outstanding
from .orders import (
    check_fee_payment,
    create_order,
    fee_payment_received,
    his_accepted,
    his_refused,
    member_order,
    member_orders,
    start_fee_payment,
)
from .refs import is_fee_ref
from .refunds import refund_fee_order
from .returns import refund_items, refund_notice, refunded_fen

__all__ = [
    "HospitalFees",
    "check_fee_payment",
    "create_order",
    "fee_payment_received",
    "his_accepted",
    "his_refused",
    "is_fee_ref",
    "member_order",
    "member_orders",
    "outstanding",
    "refund_fee_order",
    "refund_items",
    "refund_notice",
    "refunded_fen",
    "start_fee_payment",
]
