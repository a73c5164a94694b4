"""A hospital's own settings for a plugin the city enabled (its HIS address, its merchant
account). They override the city's values of the same name for that hospital's bookings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class HospitalPlugin(TenantModel, table=True):
    """One hospital's settings for one plugin; credentials stored encrypted."""

    __tablename__ = "hospital_plugins"
    __table_args__ = (UniqueConstraint("city_id", "hospital_id", "plugin", name="uq_hospital_plugin"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id", index=True)
    plugin: str = Field(max_length=80)
    settings: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    secrets_encrypted: str = Field(default="", max_length=8000)
    updated_at: datetime = Field(default_factory=utcnow)
