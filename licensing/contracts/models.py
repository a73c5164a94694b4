"""Contract tables: the versions of each city's contract, and the operating profit an operator
declares per month (for profit-share contracts)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column, UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class Contract(TenantModel, table=True):
    """One version of a city's contract. Versions are never changed: an amendment is a new
    version with a later (or the same) ``effective_from``. The version in force on a day is
    the latest one effective on or before it."""

    __tablename__ = "licensing_contracts"
    __table_args__ = (UniqueConstraint("city_id", "version", name="uq_licensing_contract_version"),)

    id: int | None = Field(default=None, primary_key=True)
    version: int  # 1, 2, 3… per city
    model: str = Field(max_length=20)  # revenue_share | rental | profit_share
    effective_from: date
    terms: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    buyer: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # the operator, as invoiced
    note: str = Field(default="", max_length=500)
    created_by: str = Field(default="", max_length=120)
    created_at: datetime = Field(default_factory=utcnow)


class ProfitDeclaration(TenantModel, table=True):
    """The operating profit (运营利润) the operator declares for a month, in fen (a loss is
    negative). Changed only while no issued invoice covers the month."""

    __tablename__ = "licensing_profit_declarations"
    __table_args__ = (UniqueConstraint("city_id", "period", name="uq_licensing_profit_period"),)

    id: int | None = Field(default=None, primary_key=True)
    period: str = Field(max_length=7)  # YYYY-MM
    profit_fen: int = Field(sa_type=BigInteger)
    note: str = Field(default="", max_length=500)
    declared_by: str = Field(default="", max_length=120)
    declared_at: datetime = Field(default_factory=utcnow)
