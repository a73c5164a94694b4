"""Installed licences: one row per licence a city installed, kept after it is revoked or
replaced (the history); the newest unrevoked one whose first day has come counts
(:func:`.states.counting`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class InstalledLicence(TenantModel, table=True):
    """A verified licence token as installed, with who installed it and, once withdrawn, who
    revoked it and why. The token is verified again each time it is loaded."""

    __tablename__ = "licences"
    __table_args__ = (UniqueConstraint("city_id", "licence_id", name="uq_licence_id"),)

    id: int | None = Field(default=None, primary_key=True)
    licence_id: str = Field(max_length=64)
    token: str = Field(sa_column=Column(Text, nullable=False))
    key_id: str = Field(max_length=100)  # the signing key's PASERK id, k4.pid.…
    valid_from: date
    valid_until: date
    installed_at: datetime = Field(default_factory=utcnow)
    installed_by: str = Field(default="", max_length=120)
    revoked_at: datetime | None = None
    revoked_by: str = Field(default="", max_length=120)
    revoke_reason: str = Field(default="", max_length=300)
