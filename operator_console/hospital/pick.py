"""Which hospital a hospital back-office page is about, and refusals in the reader's language.

Hospital roles are pinned to their own hospital: a ``hospital`` parameter naming another one is
answered 404 like a hospital that does not exist. City-wide roles (city administrators, the
vendor) pick one of the city's hospitals; until they do, pages show the picker.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.booking import labels
from guahao.core.errors import DomainError, NotFound
from guahao.core.models import Hospital
from guahao.core.models.staff import HOSPITAL_ROLES

from ..kit.pages import Console

# English sentences of the back office's refusals (their own messages are zh-CN only).
ENGLISH = {
    "capacity_below_booked": "A capacity cannot be lower than what is already booked: "
                             "%(booked)s booked, %(capacity)s requested.",
    "session_over": "This session is over; it can no longer be suspended or moved.",
    "session_already_changed": "This session has already been suspended or moved; create a new session instead.",
    "target_unavailable": "The target session is suspended or cancelled; choose another date or doctor.",
    "target_in_past": "The new time has passed; choose a later date.",
    "same_session": "The new time is the same as the session's; choose another date, half-day or doctor.",
    "template_overlap": "This doctor already has an active template on that weekday and half-day; "
                        "deactivate or edit it first.",
    "nothing_to_release": "This pool has no unused units to release.",
    "reason_required": "Please give the reason; patients read it in their notification.",
    "reason_too_long": "The reason is too long.",
    "invalid_half_day": "Choose morning, afternoon or evening.",
    "invalid_period_count": "Too many periods: each period needs at least 5 minutes.",
    "invalid_pools": "Enter units of at least 0 for each pool, more than 0 in total.",
    "invalid_dates": "The end date cannot be before the start date.",
    "invalid_range": "Choose a date range of at most 92 days.",
    "invalid_capacity": "A capacity is a whole number of at least 0.",
    "invalid_pool": "Only the on-site, in-clinic and referral pools can be released.",
    "invalid_status": "Unknown status.",
    "invalid_input": "Please check the highlighted fields.",
    "not_found": "Not found, or outside your scope.",
}


def refusal(c: Console, exc: DomainError) -> str:
    """The refusal as a sentence: the service's own zh-CN text, or its English version (a
    booking rule's refusal in the wording for staff, ``Console.refusal``)."""
    if labels.refusal_text(exc.code, exc.details, c.lang, reader="staff"):
        return c.refusal(exc)
    if c.lang == "zh-CN" and " / " not in exc.message and any("\u4e00" <= ch <= "\u9fff" for ch in exc.message):
        return exc.message
    if c.lang != "zh-CN" and exc.code in ENGLISH:
        details = exc.details if isinstance(exc.details, dict) else {}
        try:
            return ENGLISH[exc.code] % details
        except (KeyError, TypeError, ValueError):
            return ENGLISH[exc.code].split(":")[0] + "."
    return c.refusal(exc)


def pinned(c: Console) -> bool:
    """The principal works for one hospital only."""
    return c.principal.role in HOSPITAL_ROLES


async def hospitals_in_scope(c: Console, s: AsyncSession) -> list[Hospital]:
    scope = await c.hospital_scope(s)
    q = select(Hospital).order_by(Hospital.code)
    if scope is not None:
        q = q.where(Hospital.id.in_(scope or {-1}))
    return list((await s.scalars(q)).all())


async def chosen_hospital(c: Console, s: AsyncSession) -> tuple[Hospital | None, list[Hospital]]:
    """The page's hospital (``hospital`` query or form field, checked against the scope) and
    the hospitals the principal may pick from."""
    choices = await hospitals_in_scope(c, s)
    wanted = c.int_field("hospital")
    raw = c.form.get("hospital", c.request.query_params.get("hospital", "")).strip()
    if raw and wanted is None:
        raise NotFound("hospital", code="hospital_not_found")
    if pinned(c):
        own = c.principal.hospital_id
        if wanted is not None and wanted != own:
            raise NotFound("hospital", code="hospital_not_found")
        return await c.check_hospital(s, own), choices
    if wanted is None:
        return (choices[0] if len(choices) == 1 else None), choices
    return await c.check_hospital(s, wanted), choices


def parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def half_day_label(_, half_day: str) -> str:
    return _({"am": "Morning", "pm": "Afternoon", "evening": "Evening"}.get(str(half_day), str(half_day)))


# Sessions' and complaints' statuses; a booking's status and pool read as ``core.booking.labels``
# says them (``status_label``, ``pool_label`` of every console page).
STATUS_LABELS = {
    "open": "In service", "suspended": "Suspended", "cancelled": "Cancelled",
    "submitted": "Awaiting reply", "replied": "Replied", "closed": "Closed",
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
