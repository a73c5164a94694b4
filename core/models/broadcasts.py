"""Broadcasts (群发, R9.3): a notice staff send to everyone booked in a session, a department or
a hospital on a day, and the message each recipient gets on each channel."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel

AUDIENCE_SCOPES: tuple[str, ...] = ("session", "department", "hospital")


class Broadcast(TenantModel, table=True):
    """One notice sent to one audience.

    ``scope`` says who: ``session`` (everyone booked in ``session_id``), ``department``
    (``department_id`` on ``day``) or ``hospital`` (``hospital_id`` on ``day``); every audience
    lies within ``hospital_id``. ``request_key`` is the sending form's one-time key: a second
    submit of the same form finds this row instead of sending again. ``sent_by`` is the audit
    actor label (``staff:12``), ``sent_by_name`` its display name."""

    __tablename__ = "broadcasts"
    __table_args__ = (
        UniqueConstraint("city_id", "request_key", name="uq_broadcasts_request_key"),
        Index("ix_broadcasts_hospital_created", "city_id", "hospital_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id")
    scope: str = Field(sa_type=String(12))
    department_id: int | None = Field(default=None, foreign_key="departments.id")
    session_id: int | None = Field(default=None, foreign_key="clinic_sessions.id")
    day: date | None = None
    audience: str = Field(default="", max_length=300)
    """The audience as staff read it (``第一人民医院 呼吸内科 2031-01-02``)."""
    text: str = Field(max_length=500)
    channels: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    members: int = 0
    request_key: str = Field(max_length=64)
    sent_by: str = Field(default="", max_length=60)
    sent_by_name: str = Field(default="", max_length=120)
    created_at: datetime = Field(default_factory=utcnow)


class BroadcastMessage(TenantModel, table=True):
    """A broadcast's message to one member on one channel; its ``notifications`` row (the
    city's message log) carries the delivery status."""

    __tablename__ = "broadcast_messages"
    __table_args__ = (
        UniqueConstraint("city_id", "broadcast_id", "member_id", "channel", name="uq_broadcast_messages"),
    )

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(foreign_key="broadcasts.id")
    member_id: int = Field(foreign_key="members.id")
    channel: str = Field(sa_type=String(10))
    notification_id: int = Field(foreign_key="notifications.id")
