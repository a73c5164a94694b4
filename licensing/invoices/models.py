"""Invoice tables: invoices and credit notes of each city, their lines, the platform's number
series and the seller (the vendor) printed on every invoice.

Invoices are never deleted and change only as their states allow: a draft may be replaced
(``discarded``) or finalized; afterwards only the payment, the void and the Stripe push are
written. Lines are append-only and may be added to a draft only. The database enforces this
(triggers of :mod:`.immutability`, on PostgreSQL and SQLite), not only this code.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from guahao.plugin_api import TenantModel, utcnow

STATES = ("draft", "finalized", "paid", "voided", "discarded")
"""draft → finalized → paid; finalized or paid → voided (with a credit note); a draft
replaced by a new run → discarded."""

LIVE = ("draft", "finalized", "paid")
ISSUED = ("finalized", "paid")
KINDS = ("invoice", "credit_note")

_ONE_LIVE = text("kind = 'invoice' AND status IN ('draft', 'finalized', 'paid')")


class Invoice(TenantModel, table=True):
    """An invoice (or a credit note) of one city for one month's usage under its contract."""

    __tablename__ = "licensing_invoices"
    # Rows are never deleted by the application (a removed city is erased by the owner, as
    # the ledger is); updates are limited by triggers.
    __append_only__ = True
    __table_args__ = (
        UniqueConstraint("number", name="uq_licensing_invoice_number"),
        # One live invoice per city and month: a re-run discards the draft first.
        Index("uq_licensing_invoice_live", "city_id", "period", unique=True,
              sqlite_where=_ONE_LIVE, postgresql_where=_ONE_LIVE),
        Index("ix_licensing_invoices_period", "period"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="invoice", max_length=12)  # invoice | credit_note
    status: str = Field(default="draft", max_length=12)
    period: str = Field(max_length=7)  # YYYY-MM, the city's local month
    period_start: date
    period_end: date  # exclusive
    number: str | None = Field(default=None, max_length=24)  # GH-2026-000123 once finalized
    currency: str = Field(default="CNY", max_length=3)
    subtotal_fen: int = Field(default=0, sa_type=BigInteger)
    vat_percent: str = Field(default="0", max_length=8)
    vat_fen: int = Field(default=0, sa_type=BigInteger)
    total_fen: int = Field(default=0, sa_type=BigInteger)
    seller: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    buyer: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    contract_versions: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    notes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    credit_for_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("licensing_invoices.id"), nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=120)
    issued_on: date | None = None
    finalized_at: datetime | None = None
    paid_at: datetime | None = None
    paid_reference: str = Field(default="", max_length=120)
    voided_at: datetime | None = None
    void_reason: str = Field(default="", max_length=500)
    credit_note_id: int | None = None
    stripe_invoice_id: str = Field(default="", max_length=64)
    stripe_status: str = Field(default="", max_length=20)


class InvoiceLine(TenantModel, table=True):
    """One line: an amount, and where it came from — the meter, the days, the contract
    version and the ledger rows (first and last sequence number and hash)."""

    __tablename__ = "licensing_invoice_lines"
    __append_only__ = True  # added to a draft, never changed or removed
    __table_args__ = (Index("ix_licensing_invoice_lines_invoice", "invoice_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(sa_column=Column(Integer, ForeignKey("licensing_invoices.id"), nullable=False))
    position: int
    code: str = Field(max_length=40)  # revenue_share.fees, rental.licence, rental.overage.sms …
    description: str = Field(max_length=200)
    description_en: str = Field(default="", max_length=200)
    meter: str = Field(default="", max_length=40)
    meter_value: str = Field(default="", max_length=40)  # a dimension's value, e.g. sms
    span_start: date
    span_end: date  # exclusive
    contract_version: int = 0
    quantity: int = Field(default=0, sa_type=BigInteger)
    unit: str = Field(default="", max_length=20)
    rate: str = Field(default="", max_length=40)  # "10%", "50" (fen per unit)
    amount_fen: int = Field(sa_type=BigInteger)
    ledger_rows: int = 0
    first_seq: int | None = Field(default=None, sa_type=BigInteger)
    last_seq: int | None = Field(default=None, sa_type=BigInteger)
    first_hash: str = Field(default="", max_length=64)
    last_hash: str = Field(default="", max_length=64)


class InvoiceNumberSeries(SQLModel, table=True):
    """The platform's number series per kind and calendar year: the last number given. Taken
    with ``UPDATE … RETURNING`` inside the finalizing transaction, so numbers never repeat or
    skip (a rolled-back finalization gives its number back)."""

    __tablename__ = "licensing_invoice_numbers"

    series: str = Field(primary_key=True, max_length=8)  # GH (invoices), GHCN (credit notes)
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_number: int = 0


class Seller(SQLModel, table=True):
    """The vendor as printed on invoices (one row, ``id`` 1)."""

    __tablename__ = "licensing_seller"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=200)
    name_en: str = Field(default="", max_length=200)
    tax_id: str = Field(default="", max_length=40)
    address: str = Field(default="", max_length=300)
    bank_account: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=40)
    updated_at: datetime = Field(default_factory=utcnow)
