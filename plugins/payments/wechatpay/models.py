"""WeChat Pay notifications the city received: each is acted on once (by its notification
id), and what became of it stays visible. A refund notice that arrives before the platform
knew of the payment is kept as ``early`` and applied when the payment notice comes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class WechatpayNotification(TenantModel, table=True):
    """One verified, decrypted WeChat Pay notification, deduplicated per city by its id."""

    __tablename__ = "wechatpay_notifications"
    __table_args__ = (
        UniqueConstraint("city_id", "notify_id", name="uq_wechatpay_notify"),
        Index("ix_wechatpay_notify_trade", "city_id", "out_trade_no"),
    )

    id: int | None = Field(default=None, primary_key=True)
    notify_id: str = Field(max_length=64)
    event_type: str = Field(max_length=40)
    out_trade_no: str = Field(default="", max_length=32)
    out_refund_no: str = Field(default="", max_length=64)
    booking_id: str = Field(default="", max_length=24)
    amount_fen: int = 0
    # confirmed | duplicate | refunding | refunded | refund_failed | early | applied | refused | ignored
    outcome: str = Field(max_length=20)
    detail: str = Field(default="", max_length=300)
    received_at: datetime = Field(default_factory=utcnow)
