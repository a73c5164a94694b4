"""Hospital back office (R11, R8, R5.8): weekly schedule templates, the record of schedule
changes (停诊/调班) and community referrals.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, String, UniqueConstraint
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class ScheduleTemplate(TenantModel, table=True):
    """A doctor's weekly session (出诊模板): every ``weekday`` at ``half_day`` between
    ``valid_from`` and ``valid_until``, split into ``period_count`` equal periods, each with
    ``pools`` units per pool kind (``{"public": 4, "onsite": 1, …}``)."""

    __tablename__ = "schedule_templates"
    __table_args__ = (Index("ix_schedule_templates_hospital", "city_id", "hospital_id", "weekday"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id")
    campus_id: int = Field(foreign_key="campuses.id")
    doctor_id: int = Field(foreign_key="doctors.id")
    registration_type_id: int = Field(foreign_key="registration_types.id")
    weekday: int  # 0 = Monday … 6 = Sunday
    half_day: str = Field(max_length=10)
    period_count: int
    pools: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    pool_release_hours_before: int | None = None  # reserved pools join the public pool then
    valid_from: date
    valid_until: date | None = None
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ScheduleChange(TenantModel, table=True):
    """A session suspended (停诊) or moved (调班): who did it, why, and what it did (R8.2)."""

    __tablename__ = "schedule_changes"
    __table_args__ = (
        Index("ix_schedule_changes_hospital", "city_id", "hospital_id", "at"),
        Index("ix_schedule_changes_session", "city_id", "session_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id")
    session_id: int = Field(foreign_key="clinic_sessions.id")
    kind: str = Field(sa_type=String(20))  # suspend | move
    target_session_id: int | None = Field(default=None, foreign_key="clinic_sessions.id")
    reason: str = Field(max_length=500)
    actor: str = Field(max_length=120)
    actor_name: str = Field(default="", max_length=120)
    at: datetime = Field(default_factory=utcnow)
    moved: int = 0
    cancelled: int = 0
    waitlist_cancelled: int = 0


class Referral(TenantModel, table=True):
    """A community centre's referral (社区转诊, R5.8): the booking it made in a hospital's
    referral pool; the booking's status tracks it to the visit."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("city_id", "booking_id"),
        Index("ix_referrals_centre", "city_id", "centre_id", "created_at"),
        Index("ix_referrals_hospital", "city_id", "hospital_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    booking_id: str = Field(foreign_key="bookings.id", max_length=24)
    centre_id: int = Field(foreign_key="hospitals.id")  # the referring community centre
    hospital_id: int = Field(foreign_key="hospitals.id")  # the hospital referred to
    member_id: int = Field(foreign_key="members.id")
    staff_id: int | None = None
    note: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
