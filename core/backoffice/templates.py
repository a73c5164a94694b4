"""Weekly schedule templates (出诊模板, R11.1) and the sessions made from them.

A template says "this doctor sees patients every Tuesday morning at this campus, as an expert,
in 8 periods of 4 public units, 1 on-site and 1 referral"; ``generate_sessions`` turns the
templates of a hospital into sessions for a range of dates, skipping holidays and dates where
the doctor already has that session (so running it again adds only what is missing).
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, Field
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.catalogue.schedule import HALF_DAY_HOURS, create_session, even_periods
from guahao.core.models import Campus, ClinicSession, Doctor, PoolKind, RegistrationType, ScheduleTemplate
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from . import errors, scope

MAX_DAYS = 92  # one quarter per run
MIN_PERIOD_MINUTES = 5


class TemplateInput(BaseModel):
    """What staff enter for a template; ``pools`` are units per period."""

    doctor_id: int
    campus_id: int
    registration_type_id: int
    weekday: int = Field(ge=0, le=6)  # 0 = Monday
    half_day: str
    period_count: int = Field(ge=1, le=48)
    pools: dict[str, int]
    pool_release_hours_before: int | None = Field(default=None, ge=0, le=24 * 14)
    valid_from: date
    valid_until: date | None = None


class GenerateResult(BaseModel):
    created: int
    skipped_existing: int
    skipped_holidays: int
    session_ids: list[int]


async def _check(s: AsyncSession, hospital_id: int, data: TemplateInput, template_id: int | None) -> None:
    if data.half_day not in HALF_DAY_HOURS:
        raise errors.invalid("half_day", "请选择上午、下午或晚上。", code="invalid_half_day")
    start_h, end_h = HALF_DAY_HOURS[data.half_day]
    if (end_h - start_h) * 60 // data.period_count < MIN_PERIOD_MINUTES:
        raise errors.invalid("period_count", "时段过多：每个时段至少 5 分钟。", code="invalid_period_count")
    kinds = {k.value for k in PoolKind}
    if not data.pools or set(data.pools) - kinds or any(v < 0 for v in data.pools.values()) or not sum(data.pools.values()):
        raise errors.invalid("pools", "请为公开、现场、诊间、转诊号源池填写不小于 0 的号源数，且合计大于 0。",
                             code="invalid_pools")
    if data.valid_until is not None and data.valid_until < data.valid_from:
        raise errors.invalid("valid_until", "停用日期不能早于启用日期。", code="invalid_dates")
    for model, ident, thing in ((Doctor, data.doctor_id, "医生"), (Campus, data.campus_id, "院区"),
                                (RegistrationType, data.registration_type_id, "号别")):
        owner = await s.scalar(select(model.hospital_id).where(model.id == ident))
        if owner != hospital_id:
            raise errors.Missing(thing)
    overlap = select(ScheduleTemplate.id).where(
        ScheduleTemplate.doctor_id == data.doctor_id,
        ScheduleTemplate.weekday == data.weekday,
        ScheduleTemplate.half_day == data.half_day,
        ScheduleTemplate.active.is_(True),
        or_(ScheduleTemplate.valid_until.is_(None), ScheduleTemplate.valid_until >= data.valid_from),
    )
    if data.valid_until is not None:
        overlap = overlap.where(ScheduleTemplate.valid_from <= data.valid_until)
    if template_id is not None:
        overlap = overlap.where(ScheduleTemplate.id != template_id)
    clash = await s.scalar(overlap.limit(1))
    if clash is not None:
        raise errors.template_overlap(clash)


async def _template(s: AsyncSession, template_id: int, hospital_id: int | None) -> ScheduleTemplate:
    found = await s.scalar(select(ScheduleTemplate).where(ScheduleTemplate.id == template_id))
    if found is None or (hospital_id is not None and found.hospital_id != hospital_id):
        raise errors.Missing("出诊模板")
    return found


def _fields(t: ScheduleTemplate) -> dict:
    return TemplateInput.model_validate(t, from_attributes=True).model_dump()


async def create_template(rt, hospital_id: int, data: TemplateInput, *, actor: Actor) -> ScheduleTemplate:
    async with rt.db.transaction() as s:
        await scope.hospital(s, hospital_id)
        await _check(s, hospital_id, data, None)
        template = ScheduleTemplate(hospital_id=hospital_id, **data.model_dump())
        s.add(template)
        await s.flush()
        audit.record(s, actor, "template.create", target_type="schedule_template", target_id=template.id,
                     summary="新建出诊模板", after=data.model_dump())
        return template


async def update_template(
    rt, template_id: int, data: TemplateInput, *, actor: Actor, hospital_id: int | None = None
) -> ScheduleTemplate:
    """Change a template; sessions already made from it stay as they are."""
    async with rt.db.transaction() as s:
        template = await _template(s, template_id, hospital_id)
        await _check(s, template.hospital_id, data, template.id)
        before = _fields(template)
        for key, value in data.model_dump().items():
            setattr(template, key, value)
        template.updated_at = utcnow()
        audit.record(s, actor, "template.update", target_type="schedule_template", target_id=template.id,
                     summary="修改出诊模板", before=before, after=data.model_dump())
        return template


async def set_template_active(
    rt, template_id: int, active: bool, *, actor: Actor, hospital_id: int | None = None
) -> ScheduleTemplate:
    async with rt.db.transaction() as s:
        template = await _template(s, template_id, hospital_id)
        if active and not template.active:
            await _check(s, template.hospital_id, TemplateInput.model_validate(template, from_attributes=True), template.id)
        if template.active != active:
            template.active, template.updated_at = active, utcnow()
            audit.record(s, actor, "template.enable" if active else "template.disable",
                         target_type="schedule_template", target_id=template.id,
                         summary="启用出诊模板" if active else "停用出诊模板")
        return template


async def list_templates(rt, hospital_id: int, *, active_only: bool = False) -> list[ScheduleTemplate]:
    stmt = select(ScheduleTemplate).where(ScheduleTemplate.hospital_id == hospital_id)
    if active_only:
        stmt = stmt.where(ScheduleTemplate.active.is_(True))
    async with rt.db.transaction() as s:
        return list((await s.scalars(stmt.order_by(ScheduleTemplate.weekday, ScheduleTemplate.half_day,
                                                   ScheduleTemplate.doctor_id))).all())


async def generate_sessions(
    rt, hospital_id: int, date_from: date, date_to: date, *, actor: Actor, holidays: list[date] | tuple = ()
) -> GenerateResult:
    """Create the sessions the hospital's active templates call for between the two dates
    (inclusive, from today on), except on ``holidays`` and where the doctor already has that
    session. One audit entry names the range and the counts."""
    today = utcnow().astimezone(require_city().tz).date()
    start = max(date_from, today)
    if date_to < date_from or (date_to - start).days >= MAX_DAYS:
        raise errors.invalid("date_to", f"请选择不超过 {MAX_DAYS} 天的日期范围。", code="invalid_range")
    off = set(holidays)
    result = GenerateResult(created=0, skipped_existing=0, skipped_holidays=0, session_ids=[])
    async with rt.db.transaction() as s:
        hospital = await scope.hospital(s, hospital_id)
        templates = (
            await s.scalars(
                select(ScheduleTemplate).where(
                    ScheduleTemplate.hospital_id == hospital_id,
                    ScheduleTemplate.active.is_(True),
                    ScheduleTemplate.valid_from <= date_to,
                    or_(ScheduleTemplate.valid_until.is_(None), ScheduleTemplate.valid_until >= start),
                ).order_by(ScheduleTemplate.id)
            )
        ).all()
        doctors = {d.id: d for d in (await s.scalars(select(Doctor).where(Doctor.hospital_id == hospital_id))).all()}
        types = {r.id: r for r in (await s.scalars(
            select(RegistrationType).where(RegistrationType.hospital_id == hospital_id))).all()}
        existing = set(
            (await s.execute(
                select(ClinicSession.doctor_id, ClinicSession.date, ClinicSession.half_day).where(
                    and_(ClinicSession.hospital_id == hospital_id, ClinicSession.date >= start,
                         ClinicSession.date <= date_to)
                )
            )).all()
        )
        day = start
        while day <= date_to:
            for t in templates:
                if t.weekday != day.weekday() or day < t.valid_from or (t.valid_until and day > t.valid_until):
                    continue
                doctor = doctors.get(t.doctor_id)
                if doctor is None or not doctor.active:
                    continue
                if day in off:
                    result.skipped_holidays += 1
                    continue
                if (t.doctor_id, day, t.half_day) in existing:
                    result.skipped_existing += 1
                    continue
                cs = await create_session(
                    s, hospital=hospital, doctor=doctor, campus_id=t.campus_id,
                    registration_type=types[t.registration_type_id], day=day, half_day=t.half_day,
                    periods=even_periods(t.half_day, t.period_count, t.pools),
                    pool_release_hours_before=t.pool_release_hours_before,
                )
                existing.add((t.doctor_id, day, t.half_day))
                result.created += 1
                result.session_ids.append(cs.id)
            day += timedelta(days=1)
        audit.record(
            s, actor, "schedule.generate", target_type="hospital", target_id=hospital_id,
            summary=f"按模板生成出诊 {start}～{date_to}：新建 {result.created} 个，已有跳过 {result.skipped_existing} 个，"
                    f"节假日跳过 {result.skipped_holidays} 个",
            after={**result.model_dump(exclude={"session_ids"}), "from": start, "to": date_to,
                   "holidays": sorted(off)},
        )
    return result
