"""Alipay notifies the city received: each ``notify_id`` is acted on once, and what became of
it stays visible (confirmed, refunding, refunded, refused for a wrong APPID or amount…)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class AlipayNotify(TenantModel, table=True):
    """One verified notify, deduplicated per city by its ``notify_id``."""

    __tablename__ = "alipay_notifies"
    __table_args__ = (UniqueConstraint("city_id", "notify_id", name="uq_alipay_notify"),)

    id: int | None = Field(default=None, primary_key=True)
    notify_id: str = Field(max_length=128)
    trade_status: str = Field(default="", max_length=32)
    out_trade_no: str = Field(default="", max_length=64)
    trade_no: str = Field(default="", max_length=64)
    booking_id: str = Field(default="", max_length=24)
    # confirmed | duplicate | refunding | refunded | partly_refunded | refused | ignored
    outcome: str = Field(max_length=20)
    detail: str = Field(default="", max_length=300)
    received_at: datetime = Field(default_factory=utcnow)
