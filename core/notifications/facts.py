"""What a booking message states, loaded once: the booking with its hospital, department,
doctor, session, period, campus and registration type, and how its date, place and fee read.
The place of the visit is the session's campus, stated as ``core.catalogue.places`` states it
everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.catalogue.places import place_label, visit_place
from guahao.core.models import (
    Booking,
    Campus,
    ClinicSession,
    Department,
    Doctor,
    Hospital,
    Period,
    RegistrationType,
)
from guahao.tenants.context import CityContext

WEEKDAYS = "一二三四五六日"
HALF_DAYS = {"am": "上午", "pm": "下午", "evening": "晚上"}


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}元"


def local(at: datetime | None, city: CityContext, fmt: str = "%m月%d日 %H:%M") -> str:
    return at.astimezone(city.tz).strftime(fmt) if at else ""


@dataclass
class BookingFacts:
    """Everything a booking message mentions, loaded once."""

    booking: Booking
    hospital: Hospital
    department: Department
    doctor: Doctor
    session: ClinicSession
    period: Period
    campus: Campus | None
    reg_type: RegistrationType | None

    @property
    def when(self) -> str:
        d = self.session.date
        return (
            f"{d.year}年{d.month}月{d.day}日（星期{WEEKDAYS[d.weekday()]}）"
            f"{HALF_DAYS.get(str(self.session.half_day), '')} "
            f"{self.period.start:%H:%M}-{self.period.end:%H:%M}"
        )

    @property
    def visit_place(self) -> dict:
        """The session's place (its campus), as every surface states it (``core.catalogue.places``)."""
        c, h = self.campus, self.hospital
        return visit_place(
            c.id if c is not None else None, c.name if c is not None else None,
            c.address if c is not None else None, h.name, h.address,
        )

    @property
    def place(self) -> str:
        """Hospital and department, then the place of the visit: ``医院 科室（院区 · 地址）``."""
        text = f"{self.hospital.name} {self.department.name}"
        label = place_label(self.visit_place)
        return f"{text}（{label}）" if label else text

    @property
    def who(self) -> str:
        rtype = f"（{self.reg_type.name}号）" if self.reg_type else ""
        return f"{self.hospital.name} {self.department.name} {self.doctor.name}{rtype}"

    @property
    def fee(self) -> str:
        b = self.booking
        if b.payment_status == "paid":
            note = "已支付"
        elif b.payment_status == "unpaid":
            note = "待支付"
        else:
            note = "就诊当日到院支付"
        return f"{yuan(b.fee_fen)}（{note}）"


async def load_facts(s: AsyncSession, booking_id: str) -> BookingFacts | None:
    b = await s.scalar(select(Booking).where(Booking.id == booking_id))
    if b is None:
        return None

    async def one(model, ident):
        return await s.scalar(select(model).where(model.id == ident)) if ident is not None else None

    cs = await one(ClinicSession, b.session_id)
    return BookingFacts(
        booking=b,
        hospital=await one(Hospital, b.hospital_id),
        department=await one(Department, b.department_id),
        doctor=await one(Doctor, b.doctor_id),
        session=cs,
        period=await one(Period, b.period_id),
        campus=await one(Campus, cs.campus_id),
        reg_type=await one(RegistrationType, cs.registration_type_id),
    )
