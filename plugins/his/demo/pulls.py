"""What the demo HIS publishes when the platform pulls: schedules, visit outcomes, fee items.

Everything is deterministic, so a demo and a test see the same answers every time:

- schedules: for a hospital whose ``schedule_doctors`` is set (``*`` for every active doctor,
  else doctor numbers or names, comma-separated), one afternoon session a day, Monday to
  Saturday, of four one-hour periods (13:00–17:00) with ``schedule_capacity`` public units and
  one on-site unit each; the sessions of ``suspend_doctor`` are published as cancelled (停诊);
- visits: the bookings pushed to it (and not cancelled there): checked in by the platform →
  ``checked_in`` (``seen`` once the period is over); any other whose period is over is a
  ``no_show`` when a hash of its id falls under ``no_show_percent``, else ``seen`` (the
  patient came to the window); the rest ``unknown`` (not due yet);
- fee items: after a checked-in visit of the patient at the hospital, a drug and an exam
  charge in integer fen.

The demo reads the platform's own tables (it is the hospital's system inside the platform), so
it needs the runtime the platform attaches (``DemoHis.attach_runtime``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from typing import Mapping

from sqlalchemy import text

from guahao.plugin_api import CityContext, FeeItem, ScheduleItem, VisitStatus, city_session, utcnow

PERIODS = (("13:00", "14:00"), ("14:00", "15:00"), ("15:00", "16:00"), ("16:00", "17:00"))
SUSPEND_REASON = "医生临时停诊（演示 HIS）"


def _digest(*parts: object) -> int:
    raw = "|".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(raw).digest()[:4], "big")


def _aware(at: datetime | str | None) -> datetime | None:
    if at is None:
        return None
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _or(value, default):
    return default if value is None or value == "" else value


def _wanted(spec: str) -> set[str]:
    return {part.strip() for part in (spec or "").replace("，", ",").split(",") if part.strip()}


async def _doctors(rt, city: CityContext, hospital_code: str) -> list[tuple[int, str]]:
    async with city_session(rt, city) as s:
        rows = (await s.execute(text(
            "SELECT d.id, d.name FROM doctors d JOIN hospitals h ON h.id = d.hospital_id "
            "WHERE h.city_id = :city AND d.city_id = :city AND h.code = :code AND d.active ORDER BY d.id"
        ), {"city": city.id, "code": hospital_code})).all()
    return [(int(r[0]), str(r[1])) for r in rows]


async def schedules(rt, city: CityContext, hospital_code: str, date_from: date, date_to: date,
                    settings: Mapping) -> list[ScheduleItem]:
    """The afternoon sessions of the chosen doctors between the two dates (both included)."""
    wanted = _wanted(str(settings.get("schedule_doctors") or ""))
    if not wanted or rt is None:
        return []
    doctors = [d for d in await _doctors(rt, city, hospital_code)
               if "*" in wanted or str(d[0]) in wanted or d[1] in wanted]
    stopped = _wanted(str(settings.get("suspend_doctor") or ""))
    capacity = max(int(_or(settings.get("schedule_capacity"), 4)), 0)
    items = []
    day = date_from
    while day <= date_to:
        if day.weekday() < 6:
            for doctor_id, name in doctors:
                suspended = str(doctor_id) in stopped or name in stopped
                items.append(ScheduleItem(
                    doctor_code=str(doctor_id), date=day, half_day="pm",
                    periods=[{"start": a, "end": b, "pools": {"public": capacity, "onsite": 1}} for a, b in PERIODS],
                    status="suspended" if suspended else "open", reason=SUSPEND_REASON if suspended else "",
                    reference=f"DEMO-S-{doctor_id}-{day:%Y%m%d}-pm",
                ))
        day += timedelta(days=1)
    return items


async def _pushed(s, city: CityContext, booking_ids: list[str]) -> set[str]:
    """The bookings pushed to the demo HIS and not cancelled there since (its appointment book)."""
    if not booking_ids:
        return set()
    rows = (await s.execute(text(
        "SELECT booking_id, data FROM booking_events WHERE city_id = :city AND kind = 'his_pushed' "
        "AND booking_id IN (" + ", ".join(f":b{i}" for i in range(len(booking_ids))) + ") ORDER BY id"
    ), {"city": city.id, **{f"b{i}": b for i, b in enumerate(booking_ids)}})).all()
    held: set[str] = set()
    for booking_id, data in rows:
        action = (json.loads(data) if isinstance(data, str) else dict(data or {})).get("action")
        if action in ("book", "move"):
            held.add(booking_id)
        elif action == "cancel":
            held.discard(booking_id)
    return held


async def visits(rt, city: CityContext, hospital_code: str, day: date, settings: Mapping) -> list[VisitStatus]:
    """What the demo hospital knows of ``day``'s appointments (those pushed to it): every one
    is listed, ``unknown`` until the patient checks in or the period is over."""
    if rt is None:
        return []
    percent = min(max(int(_or(settings.get("no_show_percent"), 20)), 0), 100)
    async with city_session(rt, city) as s:
        rows = (await s.execute(text(
            "SELECT b.id, b.status, b.checked_in_at, b.ends_at FROM bookings b JOIN hospitals h ON h.id = b.hospital_id "
            "WHERE b.city_id = :city AND h.city_id = :city AND h.code = :code AND b.session_date = :day "
            "ORDER BY b.id"
        ), {"city": city.id, "code": hospital_code, "day": day})).all()
        pushed = await _pushed(s, city, [str(r[0]) for r in rows])
    now = utcnow()
    out = []
    for booking_id, status, checked_in_at, ends_at in rows:
        if booking_id not in pushed:
            continue
        ended = (_aware(ends_at) or now) <= now
        if status == "checked_in":
            out.append(VisitStatus(booking_id, "seen" if ended else "checked_in", at=_aware(checked_in_at),
                                   reference=f"DEMO-{booking_id}"))
        elif ended:
            outcome = "no_show" if _digest(city.id, booking_id) % 100 < percent else "seen"
            out.append(VisitStatus(booking_id, outcome, reference=f"DEMO-{booking_id}"))
        else:
            out.append(VisitStatus(booking_id, "unknown", reference=f"DEMO-{booking_id}"))
    return out


async def fee_items(rt, city: CityContext, hospital_code: str, patient: Mapping) -> list[FeeItem]:
    """A drug and an exam charge of the patient's latest checked-in visit at the hospital."""
    if rt is None or not patient.get("member_id"):
        return []
    async with city_session(rt, city) as s:
        row = (await s.execute(text(
            "SELECT b.id, dp.name FROM bookings b JOIN hospitals h ON h.id = b.hospital_id "
            "JOIN departments dp ON dp.id = b.department_id "
            "WHERE b.city_id = :city AND h.city_id = :city AND h.code = :code AND b.member_id = :member "
            "AND b.status IN ('checked_in', 'completed') ORDER BY b.starts_at DESC, b.id DESC LIMIT 1"
        ), {"city": city.id, "code": hospital_code, "member": int(patient["member_id"])})).first()
    if row is None:
        return []
    booking_id, department = str(row[0]), str(row[1])
    visit = f"DEMO-{booking_id}"
    drug_fen = 1800 + _digest("drug", booking_id) % 40 * 50
    exam_fen = 2500 + _digest("exam", booking_id) % 20 * 100
    return [
        FeeItem(item_id=f"{visit}-F1", kind="drug", name="阿莫西林胶囊 0.25g×24粒", amount_fen=drug_fen, quantity="1盒",
                visit_reference=visit, booking_id=booking_id, department=department),
        FeeItem(item_id=f"{visit}-F2", kind="exam", name="血常规（五分类）", amount_fen=exam_fen,
                visit_reference=visit, booking_id=booking_id, department=department),
    ]
