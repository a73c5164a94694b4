"""Every difference between the platform and a hospital's HIS for one day (R7.3): sessions and
periods (missing on either side, capacities, status) and bookings (pushed but unknown to the
HIS, status differs). Read-only: it changes nothing on either side.

Sessions are compared when the adapter publishes schedules; bookings when it reports visits
(a booking it does not list counts as unknown to it only when its list is complete).
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import asdict, dataclass, field
from datetime import date

from sqlalchemy import select

from guahao.core.models import Booking, BookingEvent, ClinicSession, Doctor, Period, SlotPool
from guahao.core.plugins.interfaces import ScheduleItem

from .schedules import HALF_DAYS, period_specs
from .sync import PULL_TIMEOUT_SECONDS, lists_complete, prepare

PUSHED = "his_pushed"
HELD_AT_HIS = ("confirmed", "checked_in", "pending_payment")
CSV_FIELDS = ("kind", "code", "message", "session_id", "doctor", "half_day", "period", "pool", "booking_id",
              "platform", "his")


@dataclass
class Difference:
    """One difference; ``platform`` and ``his`` say what each side has."""

    kind: str  # session | period | booking
    code: str
    message: str
    session_id: int | None = None
    doctor: str = ""
    half_day: str = ""
    period: str = ""
    pool: str = ""
    booking_id: str = ""
    platform: str = ""
    his: str = ""


@dataclass
class Report:
    hospital_id: int
    hospital_code: str
    day: date
    adapter: str
    compared: list[str] = field(default_factory=list)  # "sessions", "bookings"
    differences: list[Difference] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["day"] = self.day.isoformat()
        return out

    def csv(self) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for d in self.differences:
            writer.writerow({k: ("" if v is None else v) for k, v in asdict(d).items()})
        return buf.getvalue()


def _caps(pools: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(pools.items()) if v) or "0"


async def _sessions(s, hospital_id: int, day: date):
    sessions = (await s.scalars(select(ClinicSession).where(ClinicSession.hospital_id == hospital_id,
                                                           ClinicSession.date == day).order_by(ClinicSession.id))).all()
    doctors = {d.id: d for d in (await s.scalars(select(Doctor).where(Doctor.hospital_id == hospital_id))).all()}
    periods: dict[int, dict[str, dict[str, int]]] = {}
    for cs in sessions:
        own: dict[str, dict[str, int]] = {}
        rows = (await s.execute(select(Period.start, SlotPool.pool, SlotPool.capacity)
                                .join(SlotPool, SlotPool.period_id == Period.id)
                                .where(Period.session_id == cs.id))).all()
        for start, pool, capacity in rows:
            own.setdefault(f"{start:%H:%M}", {})[str(pool)] = int(capacity)
        periods[cs.id] = own
    return sessions, doctors, periods


def _compare_sessions(report: Report, items: list[ScheduleItem], sessions, doctors, periods) -> None:
    by_key = {(cs.doctor_id, str(cs.half_day)): cs for cs in sessions}
    seen: set[int] = set()
    names = {str(d.id): d for d in doctors.values()}
    by_name = {d.name: d for d in doctors.values()}
    for item in items:
        doctor = names.get(item.doctor_code.lstrip("Dd")) or by_name.get(item.doctor_code)
        half_day = HALF_DAYS.get(item.half_day, item.half_day)
        label = doctor.name if doctor else item.doctor_code
        cs = by_key.get((doctor.id, half_day)) if doctor else None
        if cs is None:
            if item.status != "suspended":
                report.differences.append(Difference("session", "missing_on_platform", "HIS 有此出诊，平台没有",
                                                     doctor=label, half_day=half_day, his=item.status))
            continue
        seen.add(cs.id)
        his_open, platform_open = item.status != "suspended", str(cs.status) == "open"
        if his_open != platform_open:
            report.differences.append(Difference("session", "status_differs", "出诊状态不一致", session_id=cs.id,
                                                 doctor=label, half_day=half_day, platform=str(cs.status),
                                                 his=item.status))
            continue
        if not platform_open:
            continue
        try:
            wanted = {f"{sp.start:%H:%M}": sp.pools for sp in period_specs(item)}
        except (ValueError, KeyError, TypeError):
            report.errors.append(f"HIS item {item.reference or label} has invalid periods")
            continue
        own = periods.get(cs.id, {})
        for start in sorted(set(wanted) | set(own)):
            here, there = own.get(start), wanted.get(start)
            if here is None or there is None:
                code, text = (("period_missing_on_platform", "HIS 有此时段，平台没有") if here is None
                              else ("period_missing_at_his", "平台有此时段，HIS 没有"))
                report.differences.append(Difference("period", code, text, session_id=cs.id, doctor=label,
                                                     half_day=half_day, period=start,
                                                     platform=_caps(here or {}), his=_caps(there or {})))
                continue
            for pool in sorted(set(here) | set(there)):
                if here.get(pool, 0) != there.get(pool, 0):
                    report.differences.append(Difference(
                        "period", "capacity_differs", "号源数不一致", session_id=cs.id, doctor=label, half_day=half_day,
                        period=start, pool=pool, platform=str(here.get(pool, 0)), his=str(there.get(pool, 0))))
    for cs in sessions:
        if cs.id not in seen and str(cs.status) == "open":
            doctor = doctors.get(cs.doctor_id)
            report.differences.append(Difference("session", "missing_at_his", "平台有此出诊，HIS 没有", session_id=cs.id,
                                                 doctor=doctor.name if doctor else str(cs.doctor_id),
                                                 half_day=str(cs.half_day), platform=str(cs.status)))


async def _pushed(s, booking_ids: list[str]) -> set[str]:
    held: set[str] = set()
    if not booking_ids:
        return held
    events = (await s.scalars(select(BookingEvent).where(BookingEvent.booking_id.in_(booking_ids),
                                                         BookingEvent.kind == PUSHED).order_by(BookingEvent.id))).all()
    for e in events:
        action = (e.data or {}).get("action")
        if action in ("book", "move"):
            held.add(e.booking_id)
        elif action == "cancel":
            held.discard(e.booking_id)
    return held


def _compare_bookings(report: Report, visits, bookings: list[Booking], pushed: set[str], complete: bool) -> None:
    ours = {b.id: b for b in bookings}
    theirs = {v.booking_id: v for v in visits}
    for booking_id, visit in theirs.items():
        b = ours.get(booking_id)
        if b is None:
            report.differences.append(Difference("booking", "unknown_on_platform", "HIS 有此预约，平台没有",
                                                 booking_id=booking_id, his=visit.outcome))
            continue
        status = str(b.status)
        differs = (
            (status in ("cancelled", "expired"))
            or (status == "checked_in" and visit.outcome == "no_show")
            or (status == "no_show" and visit.outcome in ("checked_in", "seen"))
        )
        if differs:
            report.differences.append(Difference("booking", "status_differs", "预约状态不一致", session_id=b.session_id,
                                                 booking_id=b.id, platform=status, his=visit.outcome))
    if not complete:
        return
    for b in bookings:
        if b.id in pushed and b.id not in theirs and str(b.status) in (*HELD_AT_HIS, "no_show"):
            report.differences.append(Difference("booking", "pushed_unknown_to_his", "已推送但 HIS 不知道此预约",
                                                 session_id=b.session_id, booking_id=b.id, platform=str(b.status)))


async def reconcile(rt, hospital_id: int, day: date, *, plugins=None, adapter=None) -> Report:
    """Compare ``day`` of the hospital on both sides (the current city); a pull that fails is
    named in ``errors`` and the other comparison still runs."""
    from guahao.tenants.context import require_city

    city = require_city()
    hospital, adapter, settings, secrets = await prepare(rt, hospital_id, plugins, adapter, "book")
    report = Report(hospital.id, hospital.code, day, adapter.name)
    async with rt.db.transaction() as s:
        sessions, doctors, periods = await _sessions(s, hospital.id, day)
        bookings = list((await s.scalars(select(Booking).where(Booking.hospital_id == hospital.id,
                                                               Booking.session_date == day)
                                         .order_by(Booking.id))).all())
        pushed = await _pushed(s, [b.id for b in bookings])
    if adapter.supports("schedules"):
        report.compared.append("sessions")
        try:
            items = await asyncio.wait_for(adapter.pull_schedules(city, hospital.code, day, day, settings, secrets),
                                           PULL_TIMEOUT_SECONDS)
            _compare_sessions(report, [i for i in items if i.date == day], sessions, doctors, periods)
        except Exception as exc:
            report.errors.append(f"schedules: {type(exc).__name__}: {exc}"[:500])
    if adapter.supports("visits"):
        report.compared.append("bookings")
        try:
            visits = await asyncio.wait_for(adapter.pull_visit_status(city, hospital.code, day, settings, secrets),
                                            PULL_TIMEOUT_SECONDS)
            _compare_bookings(report, visits, bookings, pushed, lists_complete(adapter, settings, "visits"))
        except Exception as exc:
            report.errors.append(f"visits: {type(exc).__name__}: {exc}"[:500])
    return report

