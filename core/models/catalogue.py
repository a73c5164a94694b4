"""Catalogue and slot inventory (R2): hospitals → campuses → departments → doctors → sessions
→ periods → pools. Inventory is explicit: one row per (period, pool) with ``capacity`` and
``booked``, guarded by ``CHECK (booked <= capacity)``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, UniqueConstraint
from sqlmodel import Field

from guahao.tenants.models import TenantModel


class HospitalKind(StrEnum):
    general = "general"  # 综合医院
    specialty = "specialty"  # 专科医院
    community = "community"  # 社区医疗机构


class PaymentMode(StrEnum):
    at_hospital = "at_hospital"  # 到院支付: booking confirmed at once
    online = "online"  # 预约时在线支付: held until paid (R3.5, R6.1)


class DoctorTitle(StrEnum):
    chief = "chief"  # 主任医师
    associate_chief = "associate_chief"  # 副主任医师
    attending = "attending"  # 主治医师
    resident = "resident"  # 住院医师


class HalfDay(StrEnum):
    am = "am"  # 上午
    pm = "pm"  # 下午
    evening = "evening"  # 晚上


class SessionStatus(StrEnum):
    open = "open"
    suspended = "suspended"  # 停诊
    cancelled = "cancelled"


class PoolKind(StrEnum):
    public = "public"  # web/app/SMS/phone/WeChat/kiosk
    onsite = "onsite"  # 现场
    clinic = "clinic"  # 诊间预约
    referral = "referral"  # 社区转诊


class Hospital(TenantModel, table=True):
    __tablename__ = "hospitals"
    __table_args__ = (UniqueConstraint("city_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40)
    name: str = Field(max_length=200)
    short_name: str = Field(default="", max_length=60)
    kind: HospitalKind = Field(default=HospitalKind.general, sa_type=String(20))
    level: int = Field(default=3, ge=1, le=3)  # 一级/二级/三级
    grade: str = Field(default="甲", max_length=4)  # 甲/乙/丙
    district_id: int | None = Field(default=None, foreign_key="districts.id", index=True)
    address: str = Field(default="", max_length=300)
    phone: str = Field(default="", max_length=40)
    description: str = Field(default="", max_length=4000)
    payment_mode: PaymentMode = Field(default=PaymentMode.at_hospital, sa_type=String(20))
    his_adapter: str = Field(default="", max_length=80)
    booking_window_days: int | None = None  # overrides the city's rule when set
    release_time: time | None = None
    active: bool = True


class Campus(TenantModel, table=True):
    __tablename__ = "campuses"

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id", index=True)
    name: str = Field(max_length=200)
    address: str = Field(default="", max_length=300)


class Department(TenantModel, table=True):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("city_id", "hospital_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id", index=True)
    code: str = Field(max_length=20)  # 《医疗机构诊疗科目名录》 code, e.g. 03.01
    name: str = Field(max_length=100)
    description: str = Field(default="", max_length=2000)


class Doctor(TenantModel, table=True):
    __tablename__ = "doctors"

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id", index=True)
    department_id: int = Field(foreign_key="departments.id", index=True)
    name: str = Field(max_length=60, index=True)
    title: DoctorTitle = Field(default=DoctorTitle.attending, sa_type=String(20))
    specialty: str = Field(default="", max_length=300)
    introduction: str = Field(default="", max_length=4000)
    photo_url: str = Field(default="", max_length=300)
    active: bool = True


class RegistrationType(TenantModel, table=True):
    """专家/专科/普通 with its fee, per hospital."""

    __tablename__ = "registration_types"
    __table_args__ = (UniqueConstraint("city_id", "hospital_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id", index=True)
    code: str = Field(max_length=20)  # expert | specialist | general
    name: str = Field(max_length=40)
    fee_fen: int = Field(ge=0)


class ClinicSession(TenantModel, table=True):
    """A doctor's session (出诊): a date and half-day at a campus, with its type and fee."""

    __tablename__ = "clinic_sessions"
    __table_args__ = (
        UniqueConstraint("city_id", "doctor_id", "date", "half_day"),
        Index("ix_sessions_dept_date", "city_id", "department_id", "date"),
        Index("ix_sessions_doctor_date", "city_id", "doctor_id", "date"),
        Index("ix_sessions_day", "city_id", "date"),  # reports read the open days by date (R13)
    )

    id: int | None = Field(default=None, primary_key=True)
    hospital_id: int = Field(foreign_key="hospitals.id", index=True)
    campus_id: int = Field(foreign_key="campuses.id")
    department_id: int = Field(foreign_key="departments.id")
    doctor_id: int = Field(foreign_key="doctors.id")
    registration_type_id: int = Field(foreign_key="registration_types.id")
    date: date
    half_day: HalfDay = Field(sa_type=String(10))
    fee_fen: int = Field(ge=0)
    status: SessionStatus = Field(default=SessionStatus.open, sa_type=String(20))
    starts_at: datetime  # UTC of the first period's start
    ends_at: datetime  # UTC of the last period's end
    release_at: datetime  # UTC when public slots open (R2.5)
    status_reason: str = Field(default="", max_length=500)


class Period(TenantModel, table=True):
    """A time period (时段) of a session, e.g. 08:00–08:30."""

    __tablename__ = "periods"
    __table_args__ = (UniqueConstraint("city_id", "session_id", "start"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="clinic_sessions.id", index=True)
    start: time
    end: time
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC


class SlotPool(TenantModel, table=True):
    """Units of one period reserved for one kind of booking (R2.4)."""

    __tablename__ = "slot_pools"
    __table_args__ = (
        UniqueConstraint("city_id", "period_id", "pool"),
        CheckConstraint("booked <= capacity", name="ck_pool_not_overbooked"),
        CheckConstraint("booked >= 0", name="ck_pool_booked_nonneg"),
        CheckConstraint("capacity >= 0", name="ck_pool_capacity_nonneg"),
    )

    id: int | None = Field(default=None, primary_key=True)
    period_id: int = Field(foreign_key="periods.id", index=True)
    session_id: int = Field(foreign_key="clinic_sessions.id", index=True)
    pool: PoolKind = Field(sa_type=String(20))
    capacity: int = Field(default=0)
    booked: int = Field(default=0)
    release_to_public_at: datetime | None = None  # unused units join the public pool then
