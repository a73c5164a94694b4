"""The visit a piece of feedback is about: the member's own checked-in booking."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from guahao.core.models import Booking, BookingStatus

SCORE_MIN, SCORE_MAX = 1, 5


async def own_booking(s: AsyncSession, member_id: int, booking_id: str) -> Booking:
    """The member's booking; another member's booking is answered as missing (no probing)."""
    booking = await s.scalar(select(Booking).where(Booking.id == booking_id, Booking.member_id == member_id))
    if booking is None:
        raise NotFound("预约")
    return booking


async def visited(s: AsyncSession, member_id: int, booking_id: str) -> Booking:
    """The member's own booking, which must have been checked in (the patient was seen)."""
    booking = await own_booking(s, member_id, booking_id)
    if booking.status != BookingStatus.checked_in:
        raise Forbidden("not_checked_in", "只有已到院取号就诊的预约才能评价", details={"status": str(booking.status)})
    return booking


def score(value, field: str) -> int:
    """A 1–5 rating from a form or JSON value."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if not SCORE_MIN <= n <= SCORE_MAX:
        raise ValidationFailed("invalid_rating", f"评分应为{SCORE_MIN}到{SCORE_MAX}分", details={"field": field})
    return n


def text(value: str | None, limit: int, field: str, *, required: bool = False) -> str:
    out = (value or "").strip()
    if required and not out:
        raise ValidationFailed("missing_text", "请填写内容", details={"field": field})
    if len(out) > limit:
        raise ValidationFailed("text_too_long", f"内容不能超过{limit}字", details={"field": field, "limit": limit})
    return out


def already(code: str, message: str) -> Conflict:
    """Feedback for this booking was given before (one survey, one review per visit)."""
    return Conflict(code, message)
