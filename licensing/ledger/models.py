"""The usage ledger's tables: one row per billable fact (append-only, hash-chained per city)
and each city's chain head (the last sequence number and hash, locked while appending)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class UsageEvent(TenantModel, table=True):
    """A billable fact: ``quantity`` of ``meter`` at ``occurred_at``, counted once per
    ``source_id`` (a database unique constraint), chained to the city's previous row."""

    __tablename__ = "usage_events"
    __append_only__ = True  # the app may insert and read, never update or delete
    __table_args__ = (
        UniqueConstraint("city_id", "source_id", name="uq_usage_source"),
        UniqueConstraint("city_id", "seq", name="uq_usage_seq"),
        Index("ix_usage_meter_time", "city_id", "meter", "occurred_at"),
        Index("ix_usage_time", "city_id", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_type=BigInteger)  # 1, 2, 3… per city, no gaps
    meter: str = Field(max_length=40)
    quantity: int = Field(sa_type=BigInteger)
    dimensions: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    occurred_at: datetime
    source_id: str = Field(max_length=200)
    recorded_at: datetime = Field(default_factory=utcnow)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class UsageChainHead(TenantModel, table=True):
    """Where a city's chain ends; appending locks this row, so rows chain in one order."""

    __tablename__ = "usage_chain_heads"
    __table_args__ = (UniqueConstraint("city_id", name="uq_usage_head_city"),)

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(default=0, sa_type=BigInteger)
    hash: str = Field(max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)
