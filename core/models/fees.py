"""In-clinic fee payment (诊间支付, R6): a member's order to pay outstanding charges of a visit
(drugs, exams) that the hospital's HIS reported, paid online and then told to the HIS."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, String
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel

FEE_ORDER_STATUSES: tuple[str, ...] = ("pending", "paid", "refunding", "refunded", "expired")
HIS_STATES: tuple[str, ...] = ("", "pending", "accepted", "refused")


class FeeOrder(TenantModel, table=True):
    """One payment of chosen fee items of one visit at one hospital.

    ``id`` is the order's reference (``FP`` and ten letters/digits, see
    ``core.payments.fees.refs``), the number providers see. ``items`` keeps what was paid as the
    HIS described it (``item_id``, ``kind``, ``name``, ``amount_fen``, ``quantity``), so the receipt
    never depends on the HIS answering later. ``status``: ``pending`` until the provider says paid
    (``expired`` when it never did), then ``paid``; ``refunding`` → ``refunded`` when the money goes
    back (the HIS refused the payment, or the items were paid another way meanwhile).
    ``his_status``: ``pending`` while the payment is owed to the HIS, ``accepted`` or ``refused``
    (with ``his_detail``)."""

    __tablename__ = "fee_orders"
    __table_args__ = (Index("ix_fee_orders_member", "city_id", "member_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=24)
    member_id: int = Field(foreign_key="members.id")
    hospital_id: int = Field(foreign_key="hospitals.id")
    booking_id: str = Field(default="", max_length=24)
    """The platform booking of the visit the charges belong to ("" when the HIS did not name one)."""
    visit_reference: str = Field(default="", max_length=64)
    items: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    item_key: str = Field(default="", max_length=400)
    """The sorted item ids joined by ``|``: the same choice asked again is the same order."""
    amount_fen: int
    status: str = Field(default="pending", sa_type=String(12))
    provider: str = Field(default="", max_length=60)
    payment_ref: str = Field(default="", max_length=120)
    his_status: str = Field(default="", sa_type=String(12))
    his_detail: str = Field(default="", max_length=300)
    refund_ref: str = Field(default="", max_length=120)
    expires_at: datetime
    created_at: datetime = Field(default_factory=utcnow)
    paid_at: datetime | None = None
    updated_at: datetime = Field(default_factory=utcnow)
