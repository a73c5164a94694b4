"""Daily payment reconciliation (R6.4): one run per city, provider and day, and the mismatches
it found between the provider's statement and the platform's payments and refunds."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel

MISMATCH_KINDS: tuple[str, ...] = ("missing_on_platform", "missing_at_provider", "amount_differs", "status_differs")


class ReconciliationRun(TenantModel, table=True):
    """The last reconciliation of one provider's statement of one day (a re-run replaces it):
    ``outcome`` is ``running``, ``ok`` (no open mismatch), ``mismatches`` or ``failed`` (with
    ``error``); the totals are in fen, payments and refunds apart, on both sides."""

    __tablename__ = "payment_reconciliation_runs"
    __table_args__ = (UniqueConstraint("city_id", "provider", "day", name="uq_payment_reconciliation_runs_day"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=60)
    day: date
    trigger: str = Field(default="", max_length=40)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    outcome: str = Field(default="running", sa_type=String(20))
    statement_lines: int = 0
    provider_paid_fen: int = 0
    provider_refunded_fen: int = 0
    platform_paid_fen: int = 0
    platform_refunded_fen: int = 0
    payments: int = 0
    refunds: int = 0
    mismatches: int = 0
    hospitals: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """The four totals per hospital (``{"<hospital id>": {"provider_paid_fen": …}}``), for a
    hospital's administrator; lines of no known booking count for the city only."""
    error: str = Field(default="", max_length=2000)


class PaymentMismatch(TenantModel, table=True):
    """One difference between a provider's statement line and the platform's record of it.

    ``kind`` is one of :data:`MISMATCH_KINDS`; ``line_kind`` ``payment`` or ``refund``. Both
    sides' values are kept (``None``/``""`` for the side that has nothing). ``status`` is
    ``open`` until a person (or a re-query that settled it) marks it ``resolved``; a re-run of
    the day replaces the open ones and keeps the resolved ones."""

    __tablename__ = "payment_mismatches"
    __table_args__ = (Index("ix_payment_mismatches_day", "city_id", "provider", "day", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=60)
    day: date
    kind: str = Field(sa_type=String(30))
    line_kind: str = Field(sa_type=String(10))
    booking_id: str = Field(default="", max_length=24)
    hospital_id: int | None = Field(default=None, foreign_key="hospitals.id")
    our_ref: str = Field(default="", max_length=120)
    provider_ref: str = Field(default="", max_length=120)
    provider_amount_fen: int | None = None
    platform_amount_fen: int | None = None
    provider_status: str = Field(default="", max_length=30)
    platform_status: str = Field(default="", max_length=30)
    status: str = Field(default="open", sa_type=String(20))
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    resolved_by: str = Field(default="", max_length=80)
