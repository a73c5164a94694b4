"""The audit log (R8.2, R12.3): who did what, when, to which record, with before/after."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class AuditEntry(TenantModel, table=True):
    """One staff (or system) action that changed data in a city."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_city_at", "city_id", "at"),
        Index("ix_audit_city_target", "city_id", "target_type", "target_id"),
        Index("ix_audit_city_actor", "city_id", "actor"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor: str = Field(max_length=120)  # "staff:12", "vendor:1", "system"
    actor_name: str = Field(default="", max_length=120)
    actor_role: str = Field(default="", max_length=40)
    action: str = Field(max_length=60)  # "session.suspend", "staff.create", "city.rules"
    target_type: str = Field(default="", max_length=40)
    target_id: str = Field(default="", max_length=60)
    summary: str = Field(default="", max_length=500)
    reason: str = Field(default="", max_length=500)
    before: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    ip: str = Field(default="", max_length=64)
