"""Schedules a HIS publishes become sessions, periods and pools, as templates make them (R2.6).

:func:`apply_schedule` takes the :class:`ScheduleItem` list of one pull for a hospital and a
date range and brings the platform in line:

- a session the platform lacks is created (``core.catalogue.schedule.create_session``) and
  linked to the HIS's reference (``HisSession``);
- a session it has (made by a template, by staff or by an earlier pull) is linked and its
  pool capacities follow the HIS, never below what is booked: the difference is reported as
  a conflict instead; new public units go to the waitlist first, as in the console;
- an item the HIS marks ``suspended`` (停诊), and, when the adapter's list is complete, an open
  future session of the range that the HIS published before and no longer lists, goes through the back office's
  suspension flow (``core.backoffice.changes.suspend``): every booking cancelled and refunded,
  every member told why, the change audited.

Applying the same pull twice changes nothing. The HIS wins over templates for the dates it
publishes (see ``docs/his-sync.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.audit import Actor
from guahao.core.backoffice import changes
from guahao.core.booking.inventory import mark_released, released_periods
from guahao.core.booking.service import clear_gate
from guahao.core.booking.waitlist import offer_units
from guahao.core.catalogue.schedule import PeriodSpec, create_session, local_to_utc
from guahao.core.errors import DomainError
from guahao.core.models import (
    HOLDING,
    Booking,
    Campus,
    ClinicSession,
    Department,
    Doctor,
    HisSession,
    Hospital,
    Period,
    PoolKind,
    RegistrationType,
    SessionStatus,
    SlotPool,
)
from guahao.core.plugins.interfaces import ScheduleItem
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

HALF_DAYS = {"am": "am", "pm": "pm", "evening": "evening", "night": "evening"}
TITLE_TYPES = {"chief": "expert", "associate_chief": "expert", "attending": "specialist", "resident": "general"}
DEFAULT_SUSPEND_REASON = "医院信息系统通知停诊"
DROPPED_REASON = "医院已取消该出诊安排"

Key = tuple[int, date, str]  # doctor id, date, half-day


@dataclass
class ApplyResult:
    """What one pull changed; ``conflicts`` are differences the platform would not apply."""

    items: int = 0
    created: int = 0
    changed: int = 0
    suspended: int = 0
    conflicts: list[dict] = field(default_factory=list)
    session_ids: list[int] = field(default_factory=list)

    def conflict(self, code: str, message: str, **where) -> None:
        self.conflicts.append({"code": code, "message": message, **{k: str(v) for k, v in where.items()}})


def _clock(text: str) -> time:
    hour, minute = str(text).split(":")[:2]
    return time(int(hour), int(minute))


def period_specs(item: ScheduleItem) -> list[PeriodSpec]:
    """The item's periods as the catalogue's specs, in time order; raises ``ValueError``."""
    specs = []
    for p in item.periods:
        pools = {str(k): int(v) for k, v in dict(p.get("pools") or {}).items()}
        if not pools or any(k not in PoolKind.__members__ or v < 0 for k, v in pools.items()):
            raise ValueError(f"bad pools {pools!r}")
        start, end = _clock(p["start"]), _clock(p["end"])
        if end <= start:
            raise ValueError(f"period {p['start']}–{p['end']} ends before it starts")
        specs.append(PeriodSpec(start, end, pools))
    if not specs:
        raise ValueError("no periods")
    specs.sort(key=lambda sp: sp.start)
    return specs


class _Catalogue:
    """The hospital's doctors, departments, campuses and registration types, to resolve items."""

    def __init__(self, doctors, departments, campuses, types) -> None:
        self.doctors = {d.id: d for d in doctors}
        self.by_name: dict[str, list[Doctor]] = {}
        for d in doctors:
            self.by_name.setdefault(d.name, []).append(d)
        self.departments = {d.code: d for d in departments}
        self.campuses = sorted(campuses, key=lambda c: c.id)
        self.types = {t.code: t for t in types}
        self.type_list = sorted(types, key=lambda t: t.id)

    def doctor(self, code: str) -> Doctor | None:
        """A doctor by the platform's doctor number (``12`` or ``D12``), else by a unique name."""
        text = (code or "").strip()
        digits = text[1:] if text[:1] in ("D", "d") else text
        if digits.isdigit() and int(digits) in self.doctors:
            return self.doctors[int(digits)]
        named = self.by_name.get(text, [])
        return named[0] if len(named) == 1 else None

    def campus(self, code: str) -> Campus | None:
        if not self.campuses:
            return None
        for c in self.campuses:
            if code and (str(c.id) == code or c.name == code):
                return c
        return self.campuses[0]

    def registration_type(self, doctor: Doctor) -> RegistrationType | None:
        wanted = TITLE_TYPES.get(str(doctor.title), "general")
        for code in (wanted, "specialist", "general", "expert"):
            if code in self.types:
                return self.types[code]
        return self.type_list[0] if self.type_list else None


async def _catalogue(s: AsyncSession, hospital_id: int) -> _Catalogue:
    def rows(model):
        return s.scalars(select(model).where(model.hospital_id == hospital_id))

    return _Catalogue(
        (await rows(Doctor)).all(), (await rows(Department)).all(), (await rows(Campus)).all(),
        (await rows(RegistrationType)).all(),
    )


async def _active_bookings(s: AsyncSession, session_id: int) -> int:
    return int(await s.scalar(
        select(func.count()).select_from(Booking).where(Booking.session_id == session_id, Booking.status.in_(HOLDING))
    ) or 0)


async def _sync_pools(s: AsyncSession, cs: ClinicSession, specs: list[PeriodSpec], result: ApplyResult) -> bool:
    """Bring an open session's periods and pools to the HIS's; returns whether anything changed."""
    tz = require_city().tz
    periods = {p.start: p for p in (await s.scalars(select(Period).where(Period.session_id == cs.id))).all()}
    pools = (await s.scalars(
        select(SlotPool).where(SlotPool.session_id == cs.id).order_by(SlotPool.id).with_for_update(key_share=True)
    )).all()
    by_period: dict[int, dict[str, SlotPool]] = {}
    for pool in pools:
        by_period.setdefault(pool.period_id, {})[str(pool.pool)] = pool
    changed = False
    wanted_starts = {spec.start for spec in specs}
    now = utcnow()
    for spec in specs:
        period = periods.get(spec.start)
        if period is None:
            period = Period(session_id=cs.id, start=spec.start, end=spec.end,
                            starts_at=local_to_utc(cs.date, spec.start, tz), ends_at=local_to_utc(cs.date, spec.end, tz))
            s.add(period)
            await s.flush()
            for kind, capacity in spec.pools.items():
                s.add(SlotPool(period_id=period.id, session_id=cs.id, pool=PoolKind(kind), capacity=capacity))
            cs.starts_at, cs.ends_at = min(cs.starts_at, period.starts_at), max(cs.ends_at, period.ends_at)
            mark_released(s, period.id)
            changed = True
            continue
        own = by_period.get(period.id, {})
        for kind in sorted(set(spec.pools) | set(own)):
            wanted = spec.pools.get(kind, 0)
            pool = own.get(kind)
            if pool is None:
                if wanted > 0:
                    s.add(SlotPool(period_id=period.id, session_id=cs.id, pool=PoolKind(kind), capacity=wanted))
                    mark_released(s, period.id)
                    changed = True
                continue
            target = wanted
            if wanted < pool.booked:
                target = pool.booked
                result.conflict("capacity_below_booked", f"HIS 号源 {wanted} 少于已预约 {pool.booked}，保留 {pool.booked}",
                                session_id=cs.id, period=f"{spec.start:%H:%M}", pool=kind)
            if target != pool.capacity:
                grew = target - pool.capacity
                pool.capacity = target
                changed = True
                await s.flush()
                if kind == PoolKind.public and grew > 0:
                    mark_released(s, period.id)
                    await offer_units(s, session_id=cs.id, period_id=period.id, pool_id=pool.id, now=now, limit=grew)
    for start, period in periods.items():
        if start in wanted_starts:
            continue
        for kind, pool in by_period.get(period.id, {}).items():
            if pool.booked:
                result.conflict("period_dropped_booked", f"HIS 已不再提供该时段，但仍有 {pool.booked} 个预约",
                                session_id=cs.id, period=f"{start:%H:%M}", pool=kind)
            if pool.capacity != pool.booked:
                pool.capacity, pool.release_to_public_at = pool.booked, None
                changed = True
    await s.flush()
    return changed


async def _link(s: AsyncSession, links: dict[int, HisSession], cs: ClinicSession, adapter: str, reference: str) -> None:
    link = links.get(cs.id)
    if link is None:
        link = HisSession(hospital_id=cs.hospital_id, session_id=cs.id, adapter=adapter, reference=reference[:120])
        s.add(link)
        links[cs.id] = link
    elif (link.reference, link.adapter) != (reference[:120], adapter):
        link.reference, link.adapter, link.synced_at = reference[:120], adapter, utcnow()


async def apply_schedule(
    rt, hospital_id: int, items: list[ScheduleItem], date_from: date, date_to: date, *,
    adapter: str, complete: bool = False, actor: Actor | None = None,
) -> ApplyResult:
    """Apply one pull of ``hospital_id``'s HIS for ``date_from``–``date_to`` (both included) in
    the current city; ``complete``: the HIS lists every session of the range, so open future
    sessions it published before and lists no more are suspended (sessions it never published,
    made by templates or staff, are left to the reconciliation report). Items outside the range are ignored."""
    city = require_city()
    actor = actor or Actor("system", name=f"HIS {adapter}")
    result = ApplyResult()
    to_suspend: list[tuple[int, str]] = []
    now = utcnow()
    async with rt.db.transaction() as s:
        # One pull of a hospital at a time: a second waits here, then sees what the first made.
        hospital = await s.scalar(select(Hospital).where(Hospital.id == hospital_id).with_for_update(key_share=True))
        if hospital is None:
            raise LookupError(f"no hospital {hospital_id}")
        cat = await _catalogue(s, hospital_id)
        sessions = {
            (cs.doctor_id, cs.date, str(cs.half_day)): cs
            for cs in (await s.scalars(
                select(ClinicSession).where(ClinicSession.hospital_id == hospital_id, ClinicSession.date >= date_from,
                                            ClinicSession.date <= date_to).order_by(ClinicSession.id)
            )).all()
        }
        links = {
            link.session_id: link
            for link in (await s.scalars(select(HisSession).where(HisSession.hospital_id == hospital_id))).all()
        }
        listed: set[Key] = set()
        for item in items:
            if not date_from <= item.date <= date_to:
                continue
            result.items += 1
            doctor = cat.doctor(item.doctor_code)
            half_day = HALF_DAYS.get(item.half_day)
            if doctor is None or half_day is None:
                result.conflict("unknown_doctor" if doctor is None else "invalid_item",
                                "HIS 的医生在平台上找不到" if doctor is None else f"无法识别的半天 {item.half_day!r}",
                                doctor=item.doctor_code, date=item.date, reference=item.reference)
                continue
            key: Key = (doctor.id, item.date, half_day)
            listed.add(key)
            cs = sessions.get(key)
            if item.status == "suspended":
                if cs is not None:
                    await _link(s, links, cs, adapter, item.reference)
                    if cs.status == SessionStatus.open and cs.ends_at > now:
                        to_suspend.append((cs.id, item.reason or DEFAULT_SUSPEND_REASON))
                continue
            try:
                specs = period_specs(item)
            except (ValueError, KeyError, TypeError) as exc:
                result.conflict("invalid_item", f"HIS 出诊数据无效：{exc}", doctor=item.doctor_code, date=item.date,
                                reference=item.reference)
                continue
            if cs is None:
                if local_to_utc(item.date, specs[-1].end, city.tz) <= now:
                    continue  # already over: nothing to book
                if not doctor.active:
                    result.conflict("doctor_inactive", "医生在平台上已停用，未建立出诊", doctor=doctor.id, date=item.date)
                    continue
                rtype = cat.registration_type(doctor)
                campus = cat.campus(item.campus_code)
                dept = cat.departments.get(item.department_code) if item.department_code else None
                if rtype is None or campus is None:
                    result.conflict("catalogue_incomplete", "医院缺少号别或院区，无法建立出诊", doctor=doctor.id,
                                    date=item.date)
                    continue
                cs = await create_session(
                    s, hospital=hospital, doctor=doctor, campus_id=campus.id, registration_type=rtype, day=item.date,
                    half_day=half_day, periods=specs, fee_fen=item.fee_fen,
                )
                if dept is not None and dept.id != cs.department_id:  # the doctor sits in this one today
                    cs.department_id = dept.id
                sessions[key] = cs
                await _link(s, links, cs, adapter, item.reference)
                result.created += 1
                result.session_ids.append(cs.id)
                continue
            await _link(s, links, cs, adapter, item.reference)
            if cs.status != SessionStatus.open:
                result.conflict("closed_on_platform", f"HIS 显示开诊，平台上已{'停诊' if cs.status == 'suspended' else '取消'}",
                                session_id=cs.id, date=cs.date)
                continue
            changed = await _sync_pools(s, cs, specs, result)
            if item.fee_fen is not None and item.fee_fen != cs.fee_fen:
                if await _active_bookings(s, cs.id):
                    result.conflict("fee_differs", f"HIS 挂号费 {item.fee_fen} 分，平台 {cs.fee_fen} 分（已有预约，不修改）",
                                    session_id=cs.id)
                else:
                    cs.fee_fen, changed = item.fee_fen, True
            if changed:
                result.changed += 1
        if complete:
            for key, cs in sessions.items():
                if key not in listed and cs.id in links and cs.status == SessionStatus.open and cs.ends_at > now:
                    to_suspend.append((cs.id, DROPPED_REASON))
        freed = released_periods(s)
    await clear_gate(rt, city, freed)
    for session_id, reason in to_suspend:
        try:
            done = await changes.suspend(rt, session_id, reason=reason, actor=actor, hospital_id=hospital_id)
        except DomainError as exc:
            result.conflict(exc.code, exc.message, session_id=session_id)
            continue
        if not done.repeated:
            result.suspended += 1
    return result


def half_day_of(value: str) -> str:
    """The platform's half-day for a HIS's (``night`` is ``evening``)."""
    return HALF_DAYS.get(value, value)

