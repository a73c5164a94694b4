"""Schedule changes (停诊/调班, R8): preview who is affected, then suspend or move a session.

A change is one transaction: the session's status and reason, every booking cancelled (its
fee refunded when paid online, see ``engine.cancel``) or moved to the target session (created
when it does not exist), waitlist places cancelled, one message per affected member, a
booking event per booking, a ``ScheduleChange`` row and one audit entry with the reason.

Concurrent bookings cannot slip in: the session row and its pool rows are locked (``FOR NO
KEY UPDATE``, so a booking's foreign-key checks on them do not deadlock with it), and the
closed session's pools end with ``capacity = booked``, so a member's booking that read the
session as open before the change committed finds no unit to take afterwards. Running a
change again is safe: it sweeps up whatever still holds a unit and changes nothing else.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.booking import engine, events
from guahao.core.booking import errors as booking_errors
from guahao.core.booking.inventory import give_back_unit, take_unit
from guahao.core.booking.views import booking_view
from guahao.core.catalogue.schedule import create_session
from guahao.core.models import (
    Booking,
    BookingStatus,
    ClinicSession,
    Department,
    Doctor,
    HalfDay,
    Hospital,
    OutboxMessage,
    RegistrationType,
    ScheduleChange,
    SessionStatus,
    WaitlistStatus,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from . import errors, scope
from .change_plan import (
    ChangePlan,
    Target,
    affected_bookings,
    load_target,
    make_plan,
    open_waitlist,
    period_specs,
    source_periods,
    source_pools,
    when_text,
)

REASON_MAX = 300
REMINDERS = ("reminder_day_before", "reminder_30min")


class ChangeResult(BaseModel):
    """What a change did; ``repeated`` when the session had already been changed this way."""

    change_id: int | None
    repeated: bool
    target_session_id: int | None
    plan: ChangePlan


def _reason(reason: str) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise errors.invalid("reason", "请填写停诊或调班的原因，患者会在通知中看到。", code="reason_required")
    if len(text) > REASON_MAX:
        raise errors.invalid("reason", f"原因最多 {REASON_MAX} 个字。", code="reason_too_long")
    return text


async def _doctor(s: AsyncSession, doctor_id: int, hospital_id: int) -> Doctor:
    doctor = await s.scalar(select(Doctor).where(Doctor.id == doctor_id))
    if doctor is None or doctor.hospital_id != hospital_id or not doctor.active:
        raise errors.Missing("医生")
    return doctor


async def _target(
    s: AsyncSession, cs: ClinicSession, new_date: date, new_half_day: str, new_doctor_id: int | None, *, lock: bool
) -> Target:
    if new_half_day not in HalfDay.__members__:
        raise errors.invalid("new_half_day", "请选择上午、下午或晚上。", code="invalid_half_day")
    doctor = await _doctor(s, new_doctor_id or cs.doctor_id, cs.hospital_id)
    if (doctor.id, new_date, new_half_day) == (cs.doctor_id, cs.date, str(cs.half_day)):
        raise errors.same_session()
    specs = period_specs(await source_periods(s, cs.id), await source_pools(s, cs.id), str(cs.half_day), new_half_day)
    target = await load_target(s, doctor=doctor, day=new_date, half_day=new_half_day, specs=specs, lock=lock)
    if target.session is not None and target.session.status != SessionStatus.open:
        raise errors.target_unavailable(target.session.id, str(target.session.status))
    if not any(p.starts_at > utcnow() for p in target.periods):
        raise errors.target_in_past(new_date)
    return target


async def _create_target(s: AsyncSession, cs: ClinicSession, target: Target) -> Target:
    """Create the target session with the source's periods and original pool sizes."""
    pools = await source_pools(s, cs.id)
    periods = await source_periods(s, cs.id)
    starts = {p.id: p.starts_at for p in periods}
    release_hours = next(
        (round((starts[p.period_id] - p.release_to_public_at).total_seconds() / 3600)
         for p in pools if p.release_to_public_at is not None),
        None,
    )
    await create_session(
        s,
        hospital=await scope.hospital(s, cs.hospital_id),
        doctor=target.doctor,
        campus_id=cs.campus_id,
        registration_type=await s.scalar(select(RegistrationType).where(RegistrationType.id == cs.registration_type_id)),
        day=target.day,
        half_day=target.half_day,
        periods=period_specs(periods, pools, str(cs.half_day), target.half_day),
        fee_fen=cs.fee_fen,
        pool_release_hours_before=release_hours,
    )
    return await load_target(s, doctor=target.doctor, day=target.day, half_day=target.half_day, specs=[], lock=True)


async def _doctor_name(s: AsyncSession, doctor_id: int) -> str:
    return await s.scalar(select(Doctor.name).where(Doctor.id == doctor_id)) or ""


# --- previews ------------------------------------------------------------------------------


async def preview_suspend(rt, session_id: int, *, hospital_id: int | None = None) -> ChangePlan:
    """Who a suspension (停诊) of the session would affect, and how. Changes nothing."""
    async with rt.db.transaction() as s:
        cs = await scope.clinic_session(s, session_id, hospital_id)
        return await make_plan(
            s, cs, doctor_name=await _doctor_name(s, cs.doctor_id), bookings=await affected_bookings(s, cs.id),
            entries=await open_waitlist(s, cs.id), now=utcnow(),
        )


async def preview_move(
    rt, session_id: int, *, new_date: date, new_half_day: str, new_doctor_id: int | None = None,
    hospital_id: int | None = None,
) -> ChangePlan:
    """Who a move (调班) to ``new_date``/``new_half_day`` (and another doctor of the same
    hospital) would affect, where each booking would go. Changes nothing."""
    async with rt.db.transaction() as s:
        cs = await scope.clinic_session(s, session_id, hospital_id)
        target = await _target(s, cs, new_date, new_half_day, new_doctor_id, lock=False)
        return await make_plan(
            s, cs, doctor_name=await _doctor_name(s, cs.doctor_id), bookings=await affected_bookings(s, cs.id),
            entries=await open_waitlist(s, cs.id), now=utcnow(), target=target,
        )


# --- changes -------------------------------------------------------------------------------


async def suspend(rt, session_id: int, *, reason: str, actor: Actor, hospital_id: int | None = None) -> ChangeResult:
    """Suspend (停诊) a session: every booking cancelled and refunded, members told why."""
    reason = _reason(reason)
    async with rt.db.transaction() as s:
        cs = await scope.clinic_session(s, session_id, hospital_id, lock=True)
        repeated = cs.status == SessionStatus.suspended
        if not repeated:
            _check_open(cs)
        return await _apply(s, cs, reason=reason, actor=actor, repeated=repeated)


async def move(
    rt, session_id: int, *, new_date: date, new_half_day: str, reason: str, actor: Actor,
    new_doctor_id: int | None = None, hospital_id: int | None = None,
) -> ChangeResult:
    """Move (调班) a session to another date, half-day or doctor of the same hospital; the
    bookings follow to the matching periods, those without room are cancelled."""
    reason = _reason(reason)
    async with rt.db.transaction() as s:
        cs = await scope.clinic_session(s, session_id, hospital_id, lock=True)
        repeated = False
        if cs.status != SessionStatus.open:
            done = await s.scalar(
                select(ScheduleChange).where(ScheduleChange.session_id == cs.id, ScheduleChange.kind == "move")
                .order_by(ScheduleChange.id.desc()).limit(1)
            )
            target_cs = await s.get(ClinicSession, done.target_session_id) if done and done.target_session_id else None
            wanted = (new_doctor_id or cs.doctor_id, new_date, new_half_day)
            if target_cs is None or (target_cs.doctor_id, target_cs.date, str(target_cs.half_day)) != wanted:
                raise errors.session_changed(cs.id, str(cs.status))
            repeated = True
        else:
            _check_open(cs)
        await affected_bookings(s, cs.id, lock=True)  # booking rows before pool rows (engine lock order)
        target = await _target(s, cs, new_date, new_half_day, new_doctor_id, lock=True)
        if target.session is None:
            target = await _create_target(s, cs, target)
        return await _apply(s, cs, reason=reason, actor=actor, repeated=repeated, target=target)


def _check_open(cs: ClinicSession) -> None:
    if cs.status != SessionStatus.open:
        raise errors.session_changed(cs.id, str(cs.status))
    if cs.ends_at <= utcnow():
        raise errors.session_over(cs.id)


async def _apply(
    s: AsyncSession, cs: ClinicSession, *, reason: str, actor: Actor, repeated: bool, target: Target | None = None
) -> ChangeResult:
    now = utcnow()
    label = scope.actor_label(actor)
    await affected_bookings(s, cs.id, lock=True)  # wait for changes already under way
    pools = await source_pools(s, cs.id, lock=True)  # from here no unit of the session can be taken
    bookings = await affected_bookings(s, cs.id, lock=True, skip_locked=True)
    entries = await open_waitlist(s, cs.id)
    doctor_name = await _doctor_name(s, cs.doctor_id)
    plan = await make_plan(s, cs, doctor_name=doctor_name, bookings=bookings, entries=entries, now=now, target=target)
    if repeated and not plan.bookings and not plan.waitlist:
        return ChangeResult(change_id=None, repeated=True, plan=plan,
                            target_session_id=target.session.id if target else None)
    capacities = {p.id: {"pool": str(p.pool), "capacity": p.capacity, "booked": p.booked} for p in pools}
    status_before = str(cs.status)
    moved_to = when_text(target.day, target.half_day) if target else ""
    if target is None:
        cs.status, cs.status_reason = SessionStatus.suspended, f"停诊：{reason}"[:500]
    else:
        cs.status = SessionStatus.cancelled
        cs.status_reason = f"调班至{target.doctor.name}医生 {moved_to}：{reason}"[:500]
    await s.flush()

    by_id = {b.id: b for b in bookings}
    periods = {p.id: p for p in await source_periods(s, cs.id)}
    for row in plan.bookings:
        b = by_id[row.booking_id]
        if row.action == "move":
            p = periods[b.period_id]
            old_when = f"{doctor_name}医生 {when_text(cs.date, cs.half_day, p.start, p.end)}"
            await _move_booking(s, b, target, row.target_period_id, row.pool, reason=reason, old_when=old_when,
                                actor=label, now=now)
        else:
            await _cancel_booking(s, b, reason=reason, moved_to=moved_to, actor=label)
    await _close_waitlist(s, cs, reason=reason, moved_to=moved_to, now=now)
    for p in await source_pools(s, cs.id, lock=True):
        await s.refresh(p)
        p.capacity, p.release_to_public_at = p.booked, None

    change = ScheduleChange(
        hospital_id=cs.hospital_id, session_id=cs.id, kind=plan.kind,
        target_session_id=target.session.id if target else None, reason=reason, actor=actor.label,
        actor_name=actor.name[:120], at=now, moved=plan.moved, cancelled=plan.cancelled,
        waitlist_cancelled=len(plan.waitlist),
    )
    s.add(change)
    where = f"{doctor_name}医生 {when_text(cs.date, cs.half_day)}"
    summary = (
        f"{'停诊' if target is None else '调班'}：{where}"
        + (f" → {target.doctor.name}医生 {moved_to}" if target else "")
        + f"；改约 {plan.moved} 个，取消 {plan.cancelled} 个，候补取消 {len(plan.waitlist)} 个"
    )
    audit.record(
        s, actor, f"schedule.{plan.kind}", target_type="clinic_session", target_id=cs.id, summary=summary,
        reason=reason, before={"status": status_before, "pools": capacities},
        after={
            "status": str(cs.status),
            "target_session_id": change.target_session_id,
            "moved": plan.moved,
            "cancelled": plan.cancelled,
            "waitlist_cancelled": len(plan.waitlist),
            "repeated": repeated,
        },
    )
    await events.write(s)
    return ChangeResult(change_id=change.id, repeated=repeated, plan=plan, target_session_id=change.target_session_id)


async def _cancel_booking(s: AsyncSession, b: Booking, *, reason: str, moved_to: str, actor: str) -> None:
    data = {"reason": reason, **({"moved_to": moved_to} if moved_to else {})}
    was_offer = b.status == BookingStatus.offered
    await engine.cancel(
        s, b.id, actor=actor, reason="session_moved" if moved_to else "session_suspended", enforce_cutoff=False,
        notice="session_suspended", notice_data=data,
    )
    if was_offer:  # an unaccepted offer ends without a message of its own
        events.notify(s, "session_suspended", member_id=b.member_id, booking_id=b.id, now=utcnow(), data=data)


async def _move_booking(
    s: AsyncSession, b: Booking, target: Target, period_id: int, pool: str, *, reason: str, old_when: str,
    actor: str, now: datetime,
) -> None:
    tp = next(p for p in target.periods if p.period_id == period_id)
    pool_id = tp.pools[pool][0]
    previous = (await booking_view(s, b)).model_dump(mode="json")  # what the HIS knew (his.push move)
    before = {"session_id": b.session_id, "period_id": b.period_id, "pool_id": b.pool_id, "starts_at": b.starts_at.isoformat()}
    await give_back_unit(s, b.pool_id, b.period_id)
    if not await take_unit(s, pool_id):
        raise booking_errors.slot_full(period_id)  # the plan saw a free unit under the same locks
    tcs = target.session
    b.session_id, b.period_id, b.pool_id = tcs.id, period_id, pool_id
    b.doctor_id, b.department_id, b.session_date = tcs.doctor_id, tcs.department_id, tcs.date
    b.starts_at, b.ends_at, b.updated_at = tp.starts_at, tp.ends_at, now
    events.record(s, b, "moved", at=now, actor=actor, data={"from": before, "to_session_id": tcs.id,
                                                            "to_period_id": period_id, "reason": reason})
    events.notify(s, "session_moved", member_id=b.member_id, booking_id=b.id, now=now,
                  data={"reason": reason, "old_when": old_when})
    events.his_push(s, b, "move", now=now, key=f"{tcs.id}:{period_id}", previous=previous)
    if b.status == BookingStatus.confirmed:
        await _replan_reminders(s, b, now=now)


async def _replan_reminders(s: AsyncSession, b: Booking, *, now: datetime) -> None:
    """Reminders planned for the old time are retired; new ones follow the new time."""
    pending = await s.scalars(
        select(OutboxMessage).where(
            OutboxMessage.topic == "notify",
            OutboxMessage.status == "pending",
            OutboxMessage.payload["booking_id"].as_string() == b.id,
        )
    )
    for msg in pending:
        if msg.payload.get("kind") in REMINDERS:
            msg.status, msg.done_at, msg.last_error = "done", now, "superseded: the session was moved"
    evening = datetime.combine(b.session_date - timedelta(days=1), events.REMINDER_EVENING_BEFORE, tzinfo=require_city().tz)
    evening = evening.astimezone(UTC)
    if evening > now:
        events.notify(s, "reminder_day_before", member_id=b.member_id, booking_id=b.id, now=now, due_at=evening)
    shortly = b.starts_at - events.REMINDER_BEFORE_START
    if shortly > now:
        events.notify(s, "reminder_30min", member_id=b.member_id, booking_id=b.id, now=now, due_at=shortly)


async def _close_waitlist(s: AsyncSession, cs: ClinicSession, *, reason: str, moved_to: str, now: datetime) -> None:
    waiting = [e for e in await open_waitlist(s, cs.id) if e.status == WaitlistStatus.waiting]
    if not waiting:
        return
    names = (
        await s.execute(
            select(Hospital.name, Department.name, Doctor.name)
            .select_from(ClinicSession)
            .join(Hospital, Hospital.id == ClinicSession.hospital_id)
            .join(Department, Department.id == ClinicSession.department_id)
            .join(Doctor, Doctor.id == ClinicSession.doctor_id)
            .where(ClinicSession.id == cs.id)
        )
    ).one()
    data = {"reason": reason, "who": " ".join(names), "when": when_text(cs.date, cs.half_day)}
    if moved_to:
        data["moved_to"] = moved_to
    for entry in waiting:
        entry.status = WaitlistStatus.cancelled
        events.notify(s, "session_suspended", member_id=entry.member_id, now=now, data=data)


async def list_changes(rt, *, hospital_id: int | None = None, session_id: int | None = None,
                       limit: int = 50) -> list[ScheduleChange]:
    """Schedule changes, newest first: of a hospital, of a session, or of the whole city."""
    stmt = select(ScheduleChange)
    if hospital_id is not None:
        stmt = stmt.where(ScheduleChange.hospital_id == hospital_id)
    if session_id is not None:
        stmt = stmt.where(ScheduleChange.session_id == session_id)
    async with rt.db.transaction() as s:
        return list((await s.scalars(stmt.order_by(ScheduleChange.id.desc()).limit(max(1, min(limit, 500))))).all())
