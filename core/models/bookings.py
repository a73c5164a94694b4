"""Bookings, their event history, the waitlist and stored idempotent responses (R3)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint, text
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class BookingStatus(StrEnum):
    pending_payment = "pending_payment"  # held for payment (R3.5)
    confirmed = "confirmed"
    offered = "offered"  # a freed unit held for a waitlisted member (R3.8)
    checked_in = "checked_in"
    no_show = "no_show"
    cancelled = "cancelled"
    expired = "expired"  # hold or offer ran out


# Statuses that hold a unit of inventory and block a second booking of the same session.
HOLDING = (BookingStatus.pending_payment, BookingStatus.confirmed, BookingStatus.offered, BookingStatus.checked_in)
# Statuses that count toward the member's active-booking limit (R3.2).
ACTIVE = (BookingStatus.pending_payment, BookingStatus.confirmed)

_holding_sql = "status IN ('pending_payment', 'confirmed', 'offered', 'checked_in')"


class Booking(TenantModel, table=True):
    """One member's booking of one unit of a period's pool."""

    __tablename__ = "bookings"
    __table_args__ = (
        # R3.1 by the database: one holding booking per member per session.
        Index(
            "uq_booking_member_session",
            "city_id",
            "member_id",
            "session_id",
            unique=True,
            sqlite_where=text(_holding_sql),
            postgresql_where=text(_holding_sql),
        ),
        Index("ix_bookings_member_starts", "city_id", "member_id", "starts_at"),
        Index("ix_bookings_status_ends", "city_id", "status", "ends_at"),
        Index("ix_bookings_session", "city_id", "session_id"),
        Index("ix_bookings_day", "city_id", "session_date"),  # reports and their rollups (R13)
    )

    id: str = Field(primary_key=True, max_length=24)  # unguessable reference
    member_id: int = Field(foreign_key="members.id")
    hospital_id: int = Field(foreign_key="hospitals.id")
    department_id: int = Field(foreign_key="departments.id")
    doctor_id: int = Field(foreign_key="doctors.id")
    session_id: int = Field(foreign_key="clinic_sessions.id")
    period_id: int = Field(foreign_key="periods.id")
    pool_id: int = Field(foreign_key="slot_pools.id")
    session_date: date
    starts_at: datetime
    ends_at: datetime
    channel: str = Field(max_length=20)
    status: BookingStatus = Field(sa_type=String(20))
    fee_fen: int = 0
    payment_status: str = Field(default="none", max_length=20)  # none | unpaid | paid | refunded
    payment_provider: str = Field(default="", max_length=60)
    payment_ref: str = Field(default="", max_length=120)
    hold_expires_at: datetime | None = None
    checked_in_at: datetime | None = None
    late: bool = False
    cancel_reason: str = Field(default="", max_length=300)
    created_by: str = Field(default="member", max_length=80)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BookingEvent(TenantModel, table=True):
    """A state change of a booking; the booking's history is its audit trail."""

    __tablename__ = "booking_events"

    id: int | None = Field(default=None, primary_key=True)
    booking_id: str = Field(foreign_key="bookings.id", index=True, max_length=24)
    kind: str = Field(max_length=30)  # created, held, paid, confirmed, cancelled, expired, …
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(default="member", max_length=80)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class WaitlistStatus(StrEnum):
    waiting = "waiting"
    offered = "offered"
    accepted = "accepted"
    expired = "expired"
    cancelled = "cancelled"


_waiting_sql = "status IN ('waiting', 'offered')"


class WaitlistEntry(TenantModel, table=True):
    """A member queued (候补) for a full session; first come, first offered."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        Index(
            "uq_waitlist_member_session",
            "city_id",
            "member_id",
            "session_id",
            unique=True,
            sqlite_where=text(_waiting_sql),
            postgresql_where=text(_waiting_sql),
        ),
        Index("ix_waitlist_session_status", "city_id", "session_id", "status", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id")
    session_id: int = Field(foreign_key="clinic_sessions.id")
    status: WaitlistStatus = Field(default=WaitlistStatus.waiting, sa_type=String(20))
    offered_booking_id: str | None = Field(default=None, max_length=24)
    offer_expires_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class IdempotencyRecord(TenantModel, table=True):
    """The first response to a mutating request with an ``Idempotency-Key`` (R3.7)."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("city_id", "owner", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=60)  # "member:42"
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status_code: int
    response: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
