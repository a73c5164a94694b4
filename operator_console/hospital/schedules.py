"""A hospital's schedule (R11.1, R11.2): sessions by date, department and doctor, and one
session's page with its periods and pools, capacity edits, early release of reserved pools,
the booking list with check-in, and the session's history of changes.

Every session, period and booking reached by URL or form field must belong to a hospital in
the principal's scope (and the period or booking to the session of the URL); anything else is
answered 404 and nothing changes. The services re-check the hospital themselves.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.backoffice import changes, pools, roster
from guahao.core.errors import DomainError, NotFound
from guahao.core.models import (
    Booking,
    Campus,
    ClinicSession,
    Department,
    Doctor,
    Hospital,
    Period,
    PoolKind,
    RegistrationType,
    ScheduleChange,
    SessionStatus,
    SlotPool,
)
from guahao.tenants.clock import utcnow

from ..kit.pages import Console, console_page
from .pick import STATUS_LABELS, chosen_hospital, half_day_label, parse_date, refusal

MAX_DAYS = 62
MAX_ROWS = 400
RESERVED = tuple(k.value for k in PoolKind if k is not PoolKind.public)


def _today(c: Console):
    return utcnow().astimezone(c.city.tz).date()


@console_page("schedule.manage")
async def overview(c: Console) -> Response:
    q = c.request.query_params
    today = _today(c)
    date_from = parse_date(q.get("from")) or today
    date_to = parse_date(q.get("to")) or date_from + timedelta(days=6)
    date_to = min(max(date_to, date_from), date_from + timedelta(days=MAX_DAYS - 1))
    department_id, doctor_id = c.int_field("department"), c.int_field("doctor")
    status = q.get("status", "")
    status = status if status in SessionStatus.__members__ else ""
    async with c.transaction() as s:
        hospital, choices = await chosen_hospital(c, s)
        departments, doctors, rows, counts = [], [], [], {}
        if hospital is not None:
            departments = list((await s.scalars(
                select(Department).where(Department.hospital_id == hospital.id).order_by(Department.code))).all())
            doctors = list((await s.scalars(
                select(Doctor).where(Doctor.hospital_id == hospital.id).order_by(Doctor.name))).all())
            stmt = (
                select(ClinicSession, Doctor.name, Department.name, RegistrationType.name)
                .join(Doctor, Doctor.id == ClinicSession.doctor_id)
                .join(Department, Department.id == ClinicSession.department_id)
                .join(RegistrationType, RegistrationType.id == ClinicSession.registration_type_id)
                .where(ClinicSession.hospital_id == hospital.id, ClinicSession.date >= date_from,
                       ClinicSession.date <= date_to)
            )
            if department_id is not None:
                stmt = stmt.where(ClinicSession.department_id == department_id)
            if doctor_id is not None:
                stmt = stmt.where(ClinicSession.doctor_id == doctor_id)
            if status:
                stmt = stmt.where(ClinicSession.status == status)
            rows = list((await s.execute(
                stmt.order_by(ClinicSession.date, ClinicSession.starts_at, Department.code, Doctor.name)
                .limit(MAX_ROWS + 1))).all())
            ids = [r[0].id for r in rows[:MAX_ROWS]]
            for sid, kind, cap, booked in (await s.execute(
                select(SlotPool.session_id, SlotPool.pool, func.sum(SlotPool.capacity), func.sum(SlotPool.booked))
                .where(SlotPool.session_id.in_(ids or [-1])).group_by(SlotPool.session_id, SlotPool.pool)
            )).all():
                counts.setdefault(sid, {})[str(kind)] = (int(cap or 0), int(booked or 0))
    return c.render(
        "schedule/overview.html", hospital=hospital, choices=choices, departments=departments, doctors=doctors,
        rows=rows[:MAX_ROWS], more=len(rows) > MAX_ROWS, counts=counts, date_from=date_from, date_to=date_to,
        department_id=department_id, doctor_id=doctor_id, status_filter=status, statuses=list(SessionStatus.__members__),
        pool_kinds=[k.value for k in PoolKind], status_labels=STATUS_LABELS,
        half_day=lambda v: half_day_label(c._, v),
    )


async def scoped_session(c: Console, s) -> ClinicSession:
    """The session of the URL, if its hospital is in the principal's scope (else 404)."""
    cs = await s.get(ClinicSession, c.request.path_params["id"])
    if cs is None:
        raise NotFound("session")
    await c.check_hospital(s, cs.hospital_id)
    return cs


async def _session_page(c: Console, *, status: int = 200, error: str | None = None) -> Response:
    async with c.transaction() as s:
        cs = await scoped_session(c, s)
        names = (await s.execute(
            select(Hospital.name, Department.name, Doctor.name, Campus.name, RegistrationType.name)
            .select_from(ClinicSession)
            .join(Hospital, Hospital.id == ClinicSession.hospital_id)
            .join(Department, Department.id == ClinicSession.department_id)
            .join(Doctor, Doctor.id == ClinicSession.doctor_id)
            .join(Campus, Campus.id == ClinicSession.campus_id)
            .join(RegistrationType, RegistrationType.id == ClinicSession.registration_type_id)
            .where(ClinicSession.id == cs.id)
        )).one()
        periods = list((await s.scalars(select(Period).where(Period.session_id == cs.id).order_by(Period.start))).all())
        by_period: dict[int, dict[str, SlotPool]] = {}
        for p in (await s.scalars(select(SlotPool).where(SlotPool.session_id == cs.id))).all():
            by_period.setdefault(p.period_id, {})[str(p.pool)] = p
        moved_in = list((await s.execute(
            select(ClinicSession.id, ClinicSession.date, ClinicSession.half_day).where(
                ClinicSession.id.in_(select(ScheduleChange.session_id)
                                     .where(ScheduleChange.target_session_id == cs.id))))).all())
    bookings = await roster.session_bookings(c.rt, cs.id, hospital_id=cs.hospital_id)
    history = await changes.list_changes(c.rt, session_id=cs.id, hospital_id=cs.hospital_id)
    now = utcnow()
    return c.render(
        "schedule/session.html", status=status, error=error, cs=cs, names=names, periods=periods,
        pools=by_period, roster=bookings, history=history, moved_in=moved_in,
        editable=cs.status == SessionStatus.open and cs.ends_at > now, pool_kinds=[k.value for k in PoolKind],
        reserved=RESERVED, status_labels=STATUS_LABELS,
        half_day=lambda v: half_day_label(c._, v), tz=c.city.tz,
        may_check_in=c.principal.can("bookings.checkin"),
    )


@console_page("schedule.manage")
async def session_page(c: Console) -> Response:
    return await _session_page(c)


async def _period_of(c: Console, s, cs: ClinicSession) -> Period:
    period = await s.get(Period, c.request.path_params["period"])
    if period is None or period.session_id != cs.id:
        raise NotFound("period")
    return period


@console_page("schedule.manage")
async def capacities(c: Console) -> Response:
    async with c.transaction() as s:
        cs = await scoped_session(c, s)
        period = await _period_of(c, s, cs)
        current = {str(p.pool): p.capacity for p in (await s.scalars(
            select(SlotPool).where(SlotPool.period_id == period.id))).all()}
    wanted: dict[str, int] = {}
    for kind in (k.value for k in PoolKind):
        raw = c.form.get(f"cap_{kind}", "").strip()
        if raw == "":
            continue
        if not raw.isdigit() or len(raw) > 5:
            return await _session_page(c, status=422, error=c._("A capacity is a whole number of at least 0."))
        value = int(raw)
        unchanged = value == current[kind] if kind in current else value == 0
        if not unchanged:
            wanted[kind] = value
    if not wanted:
        return c.redirect(f"sessions/{cs.id}#period-{period.id}", flash=c._("Nothing changed."))
    try:
        await pools.set_capacities(c.rt, period.id, wanted, actor=c.actor(), hospital_id=cs.hospital_id)
    except DomainError as exc:
        return await _session_page(c, status=exc.status, error=refusal(c, exc))
    return c.redirect(f"sessions/{cs.id}#period-{period.id}",
                      flash=c._("Capacities of %(start)s saved.", start=f"{period.start:%H:%M}"))


@console_page("schedule.manage")
async def release(c: Console) -> Response:
    async with c.transaction() as s:
        cs = await scoped_session(c, s)
        period = await _period_of(c, s, cs)
    try:
        moved = await pools.release_to_public(c.rt, period.id, c.form.get("pool", ""), actor=c.actor(),
                                              hospital_id=cs.hospital_id)
    except DomainError as exc:
        return await _session_page(c, status=exc.status, error=refusal(c, exc))
    return c.redirect(f"sessions/{cs.id}#period-{period.id}",
                      flash=c._("%(n)s units released to the public pool.", n=moved))


@console_page("bookings.checkin")
async def check_in(c: Console) -> Response:
    booking_id = c.form.get("booking_id", "").strip()[:24]
    async with c.transaction() as s:
        cs = await scoped_session(c, s)
        owner = await s.scalar(select(Booking.session_id).where(Booking.id == booking_id)) if booking_id else None
        if owner != cs.id:
            raise NotFound("booking")
    try:
        done = await roster.check_in(c.rt, booking_id, actor=c.actor(), hospital_id=cs.hospital_id)
    except DomainError as exc:
        return await _session_page(c, status=exc.status, error=refusal(c, exc))
    text = c._("%(id)s checked in (late).", id=booking_id) if done.get("late") else c._("%(id)s checked in.", id=booking_id)
    return c.redirect(f"sessions/{cs.id}#booking-{booking_id}", flash=text)


def routes() -> list:
    return [
        Route("/c/{city}/schedule", overview, methods=["GET"]),
        Route("/c/{city}/sessions/{id:int}", session_page, methods=["GET"]),
        Route("/c/{city}/sessions/{id:int}/periods/{period:int}/capacities", capacities, methods=["POST"]),
        Route("/c/{city}/sessions/{id:int}/periods/{period:int}/release", release, methods=["POST"]),
        Route("/c/{city}/sessions/{id:int}/check-in", check_in, methods=["POST"]),
    ]
