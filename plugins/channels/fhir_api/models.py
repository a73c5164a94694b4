"""The FHIR API's own tables: the third-party applications a city registered (OAuth 2.0
clients), the bearer tokens issued to them (kept as SHA-256 hashes), the periods they hold
(IHE ``$hold``) and the bookings they made (the caller's own Appointments, and the daily quota)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class FhirClient(TenantModel, table=True):
    """A third-party application registered by the city operator: its client id, the Argon2id
    hash of its secret, the scopes it may ask for, its daily booking quota and its request rate."""

    __tablename__ = "fhir_api_clients"
    __table_args__ = (UniqueConstraint("city_id", "client_id", name="uq_fhir_api_client"),)

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=40)
    secret_hash: str = Field(max_length=200)
    name: str = Field(max_length=120)
    scopes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    daily_quota: int = Field(default=100)  # successful bookings per day (city time)
    rate_per_minute: int = Field(default=120)  # requests per minute
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class FhirToken(TenantModel, table=True):
    """A bearer token issued by the token endpoint: only its SHA-256 is stored."""

    __tablename__ = "fhir_api_tokens"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_fhir_api_token"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64)
    client_id: str = Field(max_length=40)
    scopes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    expires_at: datetime


class FhirHold(TenantModel, table=True):
    """A period a client holds (``$hold``) until ``expires_at``: other clients' ``$find`` no
    longer proposes it while its free units are all held."""

    __tablename__ = "fhir_api_holds"
    __table_args__ = (Index("ix_fhir_api_holds_period", "city_id", "period_id", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    hold_id: str = Field(max_length=40, unique=True)
    client_id: str = Field(max_length=40)
    period_id: int
    expires_at: datetime
    status: str = Field(default="held", max_length=20)  # held | booked | released


class FhirBooking(TenantModel, table=True):
    """A booking a client made through the API: whose it is and when it was made."""

    __tablename__ = "fhir_api_bookings"
    __table_args__ = (
        UniqueConstraint("city_id", "booking_id", name="uq_fhir_api_booking"),
        Index("ix_fhir_api_bookings_client", "city_id", "client_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=40)
    booking_id: str = Field(max_length=24)
    member_id: int
    created_at: datetime = Field(default_factory=utcnow)
