"""Schedule sync with hospital information systems (R2.6, R7): which sessions a HIS published,
and a record of every pull (schedules, visit statuses, health checks) per hospital."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class HisSession(TenantModel, table=True):
    """A session that came from (or was matched with) the hospital's HIS: the HIS's own id of
    it, and the adapter that published it. Sessions without a row here came from templates or
    staff."""

    __tablename__ = "his_sessions"
    __table_args__ = (
        UniqueConstraint("city_id", "session_id", name="uq_his_sessions_session"),
        Index("ix_his_sessions_hospital", "city_id", "hospital_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id")
    session_id: int = Field(foreign_key="clinic_sessions.id")
    adapter: str = Field(max_length=80)
    reference: str = Field(default="", max_length=120)
    synced_at: datetime = Field(default_factory=utcnow)


class HisSyncRun(TenantModel, table=True):
    """One pull from a hospital's HIS: ``kind`` is ``schedules``, ``visits`` or ``health``;
    ``outcome`` is ``running``, ``ok`` or ``failed`` (with ``error``). ``details`` keeps the
    conflicts a schedule pull reported and the counts of a visit sweep."""

    __tablename__ = "his_sync_runs"
    __table_args__ = (Index("ix_his_sync_runs_hospital", "city_id", "hospital_id", "kind", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id")
    kind: str = Field(sa_type=String(20))
    trigger: str = Field(default="", max_length=40)
    adapter: str = Field(default="", max_length=80)
    date_from: date | None = None
    date_to: date | None = None
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    outcome: str = Field(default="running", sa_type=String(20))
    items: int = 0
    created: int = 0
    changed: int = 0
    suspended: int = 0
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    error: str = Field(default="", max_length=2000)
