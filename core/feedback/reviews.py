"""Doctor reviews (R10.1): a 1–5 rating and a comment from a member who was seen.

One review per checked-in booking. A review is published at once unless the city moderates
reviews (``moderated=True``: it waits as ``pending``); staff publish or reject it with
:func:`moderate_review`. Only published reviews count and show.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import NotFound, ValidationFailed
from guahao.core.models import Booking, BookingStatus, DoctorReview, ReviewStatus
from guahao.tenants.clock import utcnow

from .visits import already, score, text, visited

COMMENT_MAX = 1000
LATEST = 5


async def review_target(s: AsyncSession, *, member_id: int, booking_id: str) -> Booking:
    """The booking whose doctor the member may review now."""
    booking = await visited(s, member_id, booking_id)
    if await s.scalar(select(DoctorReview.id).where(DoctorReview.booking_id == booking.id)) is not None:
        raise already("already_reviewed", "您已评价过这次就诊的医生")
    return booking


async def submit_review(
    s: AsyncSession, *, member_id: int, booking_id: str, rating, comment: str = "", moderated: bool = False
) -> DoctorReview:
    """Rate the doctor of the member's own checked-in booking."""
    stars = score(rating, "rating")
    note = text(comment, COMMENT_MAX, "comment")
    booking = await review_target(s, member_id=member_id, booking_id=booking_id)
    review = DoctorReview(
        booking_id=booking.id, member_id=member_id, doctor_id=booking.doctor_id, hospital_id=booking.hospital_id,
        rating=stars, comment=note, status=ReviewStatus.pending if moderated else ReviewStatus.published,
    )
    s.add(review)
    try:
        await s.flush()
    except IntegrityError:
        raise already("already_reviewed", "您已评价过这次就诊的医生") from None
    return review


async def moderate_review(s: AsyncSession, review_id: int, *, status: str, staff: str) -> DoctorReview:
    """Publish or reject a review (staff)."""
    if status not in (ReviewStatus.published, ReviewStatus.rejected):
        raise ValidationFailed("invalid_status", "审核结果只能是 published 或 rejected", details={"field": "status"})
    review = await s.scalar(select(DoctorReview).where(DoctorReview.id == review_id))
    if review is None:
        raise NotFound("评价")
    review.status = ReviewStatus(status)
    review.moderated_by = staff[:80]
    review.moderated_at = utcnow()
    await s.flush()
    return review


async def pending_reviews(s: AsyncSession, *, hospital_id: int | None = None, limit: int = 50) -> list[DoctorReview]:
    """Reviews waiting for moderation, oldest first."""
    q = select(DoctorReview).where(DoctorReview.status == ReviewStatus.pending)
    if hospital_id is not None:
        q = q.where(DoctorReview.hospital_id == hospital_id)
    return list((await s.scalars(q.order_by(DoctorReview.created_at, DoctorReview.id).limit(limit))).all())


async def doctor_rating(s: AsyncSession, doctor_id: int, *, latest: int = LATEST) -> dict:
    """A doctor's published reviews: count, average rating and the latest few."""
    published = (DoctorReview.doctor_id == doctor_id, DoctorReview.status == ReviewStatus.published)
    count, average = (await s.execute(select(func.count(DoctorReview.id), func.avg(DoctorReview.rating)).where(*published))).one()
    rows = (
        await s.scalars(
            select(DoctorReview).where(*published).order_by(DoctorReview.created_at.desc(), DoctorReview.id.desc()).limit(latest)
        )
    ).all()
    return {
        "count": int(count or 0),
        "average": round(float(average), 1) if average is not None else None,
        "latest": [{"id": r.id, "rating": r.rating, "comment": r.comment, "created_at": r.created_at} for r in rows],
    }


async def reviewable_bookings(s: AsyncSession, member_id: int, *, limit: int = 20) -> list[Booking]:
    """The member's checked-in bookings without a review yet, latest visit first."""
    done = select(DoctorReview.booking_id).where(DoctorReview.member_id == member_id)
    q = (
        select(Booking)
        .where(Booking.member_id == member_id, Booking.status == BookingStatus.checked_in, Booking.id.not_in(done))
        .order_by(Booking.starts_at.desc())
        .limit(limit)
    )
    return list((await s.scalars(q)).all())
