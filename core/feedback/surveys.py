"""Satisfaction surveys after a visit (R9.2): one per checked-in booking, within 7 days."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import DomainError
from guahao.core.models import Booking, BookingStatus, SurveyResponse
from guahao.tenants.clock import utcnow

from .visits import already, score, text, visited

SURVEY_WINDOW = timedelta(days=7)
COMMENT_MAX = 1000
GROUPS = {"hospital": SurveyResponse.hospital_id, "department": SurveyResponse.department_id,
          "doctor": SurveyResponse.doctor_id}


def survey_closes_at(booking: Booking) -> datetime:
    return booking.ends_at + SURVEY_WINDOW


async def survey_target(s: AsyncSession, *, member_id: int, booking_id: str, now: datetime | None = None) -> Booking:
    """The booking a member may survey now; refusals say why (not seen, done, too late)."""
    booking = await visited(s, member_id, booking_id)
    if await s.scalar(select(SurveyResponse.id).where(SurveyResponse.booking_id == booking.id)) is not None:
        raise already("already_surveyed", "您已评价过这次就诊")
    if (now or utcnow()) > survey_closes_at(booking):
        raise DomainError("survey_closed", "就诊7天后不能再评价", status=409,
                          details={"closed_at": survey_closes_at(booking).isoformat()})
    return booking


async def submit_survey(
    s: AsyncSession,
    *,
    member_id: int,
    booking_id: str,
    overall,
    waiting,
    attitude,
    comment: str = "",
    now: datetime | None = None,
) -> SurveyResponse:
    """Record the member's answers about their own checked-in visit."""
    scores = score(overall, "overall"), score(waiting, "waiting"), score(attitude, "attitude")
    note = text(comment, COMMENT_MAX, "comment")
    booking = await survey_target(s, member_id=member_id, booking_id=booking_id, now=now)
    row = SurveyResponse(
        booking_id=booking.id, member_id=member_id, hospital_id=booking.hospital_id,
        department_id=booking.department_id, doctor_id=booking.doctor_id, visit_date=booking.session_date,
        overall=scores[0], waiting=scores[1], attitude=scores[2], comment=note,
    )
    s.add(row)
    try:
        await s.flush()
    except IntegrityError:  # a second tab won the race
        raise already("already_surveyed", "您已评价过这次就诊") from None
    return row


async def survey_summary(
    s: AsyncSession,
    *,
    hospital_id: int | None = None,
    department_id: int | None = None,
    doctor_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    by: str | None = None,
) -> dict | list[dict]:
    """Average scores (1–5) and response counts, filtered by visit scope and visit date.

    With ``by`` (``hospital``, ``department`` or ``doctor``) one dict per group, most
    responses first; without it one dict for the whole scope.
    """
    r = SurveyResponse
    cols = [
        func.count(r.id).label("responses"),
        func.avg(r.overall).label("overall"),
        func.avg(r.waiting).label("waiting"),
        func.avg(r.attitude).label("attitude"),
    ]
    group = GROUPS.get(by) if by else None
    if by and group is None:
        raise DomainError("invalid_group", "分组只能是 hospital、department 或 doctor", status=422)
    q = select(*([group.label("id")] if group is not None else []), *cols)
    for column, value in ((r.hospital_id, hospital_id), (r.department_id, department_id), (r.doctor_id, doctor_id)):
        if value is not None:
            q = q.where(column == value)
    if date_from is not None:
        q = q.where(r.visit_date >= date_from)
    if date_to is not None:
        q = q.where(r.visit_date <= date_to)

    def row(m) -> dict:
        out = {"responses": int(m["responses"] or 0)}
        for key in ("overall", "waiting", "attitude"):
            out[key] = round(float(m[key]), 2) if m[key] is not None else None
        if "id" in m:
            out["id"] = m["id"]
        return out

    if group is None:
        return row((await s.execute(q)).mappings().one())
    q = q.group_by(group).order_by(func.count(r.id).desc(), group)
    return [row(m) for m in (await s.execute(q)).mappings().all()]


async def open_surveys(s: AsyncSession, member_id: int, *, now: datetime | None = None, limit: int = 20) -> list[Booking]:
    """The member's checked-in visits still open for a survey, latest first."""
    done = select(SurveyResponse.booking_id).where(SurveyResponse.member_id == member_id)
    q = (
        select(Booking)
        .where(
            Booking.member_id == member_id,
            Booking.status == BookingStatus.checked_in,
            Booking.ends_at >= (now or utcnow()) - SURVEY_WINDOW,
            Booking.id.not_in(done),
        )
        .order_by(Booking.starts_at.desc())
        .limit(limit)
    )
    return list((await s.scalars(q)).all())
