"""What the platform pages show, read from the database (the routes only render it)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select

from guahao.core.models import (
    Campus,
    City,
    ClinicSession,
    Department,
    District,
    Doctor,
    Hospital,
    Notification,
    Period,
    SlotPool,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext
from guahao.tenants.models import CityPlugin

KIND_NAMES = {"general": "综合医院", "specialty": "专科医院", "community": "社区卫生服务中心"}
LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级"}
MESSAGES_PER_PAGE = 20
EXAMPLE_CANDIDATES = 20

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9Xx])(\d{4})\d{10}(\d{3}[0-9Xx])(?![0-9Xx])")


def mask_personal(text: str) -> str:
    """Hide the middle of mobile and ID numbers: ``138****0001``, ``1101**********1234``."""
    text = _ID_NUMBER.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), text or "")
    return _PHONE.sub(r"\1****\2", text)


def level_name(level: int, grade: str) -> str:
    return f"{LEVEL_NAMES.get(level, '')}{grade}等" if grade else LEVEL_NAMES.get(level, "")


async def list_cities(db) -> list[City]:
    async with db.transaction() as s:
        return list((await s.scalars(select(City).where(City.active.is_(True)).order_by(City.id))).all())


@dataclass
class HospitalCard:
    hospital: Hospital
    kind_name: str
    level_name: str
    campuses: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    doctors: int = 0


@dataclass
class DistrictGroup:
    name: str
    hospitals: list[HospitalCard] = field(default_factory=list)


async def city_hospitals(s) -> list[DistrictGroup]:
    """The current city's active hospitals grouped by district, general hospitals first."""
    districts = {d.id: d for d in (await s.scalars(select(District).order_by(District.code))).all()}
    hospitals = (await s.scalars(select(Hospital).where(Hospital.active.is_(True)).order_by(Hospital.code))).all()
    cards = {
        h.id: HospitalCard(h, KIND_NAMES.get(h.kind, h.kind), level_name(h.level, h.grade)) for h in hospitals
    }
    for c in (await s.scalars(select(Campus).order_by(Campus.id))).all():
        if c.hospital_id in cards:
            cards[c.hospital_id].campuses.append(c.name)
    for d in (await s.scalars(select(Department).order_by(Department.code))).all():
        if d.hospital_id in cards:
            cards[d.hospital_id].departments.append(d.name)
    counts = await s.execute(
        select(Doctor.hospital_id, func.count()).where(Doctor.active.is_(True)).group_by(Doctor.hospital_id)
    )
    for hospital_id, n in counts:
        if hospital_id in cards:
            cards[hospital_id].doctors = n
    order = {"general": 0, "specialty": 1, "community": 2}
    groups: dict[int | None, DistrictGroup] = {}
    for h in sorted(hospitals, key=lambda h: (order.get(h.kind, 3), -h.level, h.code)):
        key = h.district_id if h.district_id in districts else None
        group = groups.setdefault(key, DistrictGroup(districts[key].name if key is not None else "其他"))
        group.hospitals.append(cards[h.id])
    return [groups[k] for k in [*districts, None] if k in groups]


@dataclass
class BookingExample:
    """Real ids for the copy-paste curl example on the landing page."""

    department_id: int
    department: str
    hospital: str
    period_id: int
    date_from: str
    date_to: str


async def booking_example(s, city: CityContext) -> BookingExample | None:
    """A public period from tomorrow on with units left, so the example books for real.

    Two small queries (the first sessions, then a free period among them) instead of one join
    over every pool of the fortnight: the landing page must stay cheap on any plan.
    """
    tomorrow = utcnow().astimezone(city.tz).date() + timedelta(days=1)
    sessions = (
        await s.execute(
            select(ClinicSession.id, ClinicSession.department_id, ClinicSession.date, Department.name, Hospital.name)
            .join(Department, Department.id == ClinicSession.department_id)
            .join(Hospital, Hospital.id == ClinicSession.hospital_id)
            .where(
                ClinicSession.date >= tomorrow,
                ClinicSession.date <= tomorrow + timedelta(days=7),
                ClinicSession.status == "open",
                ClinicSession.release_at <= utcnow(),
            )
            .order_by(ClinicSession.date, Hospital.level.desc(), Hospital.code, Department.code, ClinicSession.id)
            .limit(EXAMPLE_CANDIDATES)
        )
    ).all()
    if not sessions:
        return None
    free = (
        await s.execute(
            select(Period.session_id, Period.id)
            .join(SlotPool, SlotPool.period_id == Period.id)
            .where(
                Period.session_id.in_([row[0] for row in sessions]),
                SlotPool.pool == "public",
                SlotPool.booked < SlotPool.capacity,
            )
            .order_by(Period.starts_at.desc())
        )
    ).all()
    first_free = {session_id: period_id for session_id, period_id in free}  # earliest wins
    for session_id, department_id, day, department, hospital in sessions:
        if session_id in first_free:
            return BookingExample(
                department_id, department, hospital, first_free[session_id], day.isoformat(),
                (day + timedelta(days=6)).isoformat(),
            )
    return None


async def message_log_public(s) -> bool:
    """The message log is shown only where the city's ``message_log`` plugin allows it
    (``public_log`` setting, on in the demo): it names patients and their visits."""
    row = await s.scalar(select(CityPlugin).where(CityPlugin.plugin == "message_log", CityPlugin.enabled.is_(True)))
    return bool(row and (row.settings or {}).get("public_log"))


@dataclass
class MessagePage:
    items: list[dict]
    page: int
    pages: int
    total: int


async def messages(s, city: CityContext, page: int) -> MessagePage:
    """Newest notifications first, with phone and ID numbers masked."""
    total = await s.scalar(select(func.count()).select_from(Notification)) or 0
    pages = max(1, -(-total // MESSAGES_PER_PAGE))
    page = min(max(1, page), pages)
    rows = (
        await s.scalars(
            select(Notification)
            .order_by(Notification.created_at.desc(), Notification.id.desc())
            .offset((page - 1) * MESSAGES_PER_PAGE)
            .limit(MESSAGES_PER_PAGE)
        )
    ).all()
    items = [
        {
            "at": n.created_at.astimezone(city.tz).strftime("%Y-%m-%d %H:%M:%S"),
            "kind": n.kind,
            "sender": n.sender,
            "recipient": mask_personal(n.recipient),
            "body": mask_personal(n.body),
            "status": n.status,
        }
        for n in rows
    ]
    return MessagePage(items, page, pages, total)
