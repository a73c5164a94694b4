"""What the carrier sent the city: nonces seen in the last ten minutes (a replayed request is
refused) and result callbacks, each acted on once with what became of it kept visible."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class CarrierNonce(TenantModel, table=True):
    """A signed request's nonce, remembered ten minutes (older ones are deleted as new come)."""

    __tablename__ = "carrier_nonces"
    __table_args__ = (UniqueConstraint("city_id", "nonce", name="uq_carrier_nonce"),)

    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(max_length=64)
    seen_at: datetime = Field(default_factory=utcnow, index=True)


class CarrierCallback(TenantModel, table=True):
    """One verified result callback, deduplicated per city by its ``notify_id``."""

    __tablename__ = "carrier_callbacks"
    __table_args__ = (UniqueConstraint("city_id", "notify_id", name="uq_carrier_callback"),)

    id: int | None = Field(default=None, primary_key=True)
    notify_id: str = Field(max_length=64)
    order_no: str = Field(default="", max_length=64)
    transaction_id: str = Field(default="", max_length=64)
    status: str = Field(default="", max_length=32)
    booking_id: str = Field(default="", max_length=24)
    # confirmed | duplicate | refunding | declined | insufficient_balance | expired | failed | refused | ignored
    outcome: str = Field(max_length=24)
    detail: str = Field(default="", max_length=300)
    received_at: datetime = Field(default_factory=utcnow)
