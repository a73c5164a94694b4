"""Side effects written in the transaction that causes them, and the messages sent to people."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class OutboxMessage(TenantModel, table=True):
    """A side effect to run after commit: a notification, a HIS push, a timeout, an event.

    The relay hands due rows to arq with job id ``outbox:<id>`` (a replay is a no-op);
    handlers are idempotent; the row records attempts and the final failure.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=60)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    due_at: datetime = Field(default_factory=utcnow)
    status: str = Field(default="pending", max_length=20)  # pending | queued | done | failed
    attempts: int = 0
    last_error: str = Field(default="", max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    done_at: datetime | None = None


class Notification(TenantModel, table=True):
    """A message to a person, as planned by core and delivered by a sender plugin (R9)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_city_created", "city_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int | None = Field(default=None, foreign_key="members.id", index=True)
    booking_id: str | None = Field(default=None, max_length=24)
    kind: str = Field(max_length=40)  # booking_confirmed, reminder_30min, cancelled, …
    sender: str = Field(default="", max_length=60)
    recipient: str = Field(default="", max_length=200)
    body: str = Field(default="", max_length=2000)
    essential: bool = True
    # pending | sent | retrying (failed, the outbox tries again) | failed (for good) | skipped
    # (no way to reach the member, or opted out) | dropped (too late to be of use)
    status: str = Field(default="pending", max_length=20)
    attempts: int = 0
    error: str = Field(default="", max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
