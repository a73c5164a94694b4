"""Stripe webhook events the city received: each is handled once, and what became of it stays
visible (confirmed, a refund started, refused for a wrong amount…)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class StripeWebhookEvent(TenantModel, table=True):
    """One verified Stripe event (``evt_…``), deduplicated per city by its id."""

    __tablename__ = "stripe_webhook_events"
    __table_args__ = (UniqueConstraint("city_id", "event_id", name="uq_stripe_event"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=255)
    type: str = Field(max_length=80)
    booking_id: str = Field(default="", max_length=24)
    # confirmed | duplicate | refunding | refunded | refund_failed | refused | ignored
    outcome: str = Field(max_length=20)
    detail: str = Field(default="", max_length=300)
    received_at: datetime = Field(default_factory=utcnow)
