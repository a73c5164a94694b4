"""Suspected scalpers (号贩子, R4.4) for the city's staff: what the console's scalper page lists.

Two signs, over a window of recent days:

- **Clusters**: several members self-registered from one client address or one browser (device
  cookie) — groups of :data:`MIN_CLUSTER` or more, with their bookings and cancellations.
- **Book-then-cancel**: members who cancelled :data:`MIN_QUICK_CANCELS` or more bookings within
  :data:`QUICK_CANCEL` of making them (holding slots to release them to a buyer).

Sorted by a suspicion score (more accounts, more quick cancellations first). Members are shown
masked (``张*``, ``138****1234``); addresses only masked (``203.0.113.x``), devices only by the
start of their keyed hash. Reads run in the caller's city (the tenant filter), so another
city's members never appear.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Booking, BookingEvent, Member
from guahao.tenants.clock import utcnow

from .scope import mask_name, mask_phone

MIN_CLUSTER = 3
QUICK_CANCEL = timedelta(minutes=30)
MIN_QUICK_CANCELS = 3
SHOWN_MEMBERS = 12
MAX_CLUSTERS = 100


@dataclass
class Activity:
    """A member's bookings in the window: made, cancelled, cancelled soon after booking."""

    bookings: int = 0
    cancelled: int = 0
    quick_cancels: int = 0


@dataclass
class Cluster:
    """Members registered from one address (``kind="ip"``) or one device (``"device"``).

    ``label`` is what people see (the masked address, or ``#`` and the start of the device's
    hash); ``key`` is the whole keyed hash, never shown."""

    kind: str
    label: str
    key: str
    first: datetime
    last: datetime
    members: list[dict] = field(default_factory=list)
    size: int = 0
    bookings: int = 0
    cancelled: int = 0
    quick_cancels: int = 0

    @property
    def score(self) -> int:
        return self.size * 2 + self.quick_cancels * 3 + self.cancelled


def _aware(at: datetime) -> datetime:
    from datetime import timezone

    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


async def _activity(s: AsyncSession, since: datetime, member_ids: list[int] | None = None) -> dict[int, Activity]:
    """Bookings made since ``since`` per member, and how many were cancelled (soon after)."""
    out: dict[int, Activity] = defaultdict(Activity)
    made = select(Booking.member_id, func.count(Booking.id)).where(Booking.created_at >= since)
    cancels = (
        select(Booking.member_id, Booking.created_at, BookingEvent.at)
        .join(BookingEvent, BookingEvent.booking_id == Booking.id)
        .where(BookingEvent.kind == "cancelled", BookingEvent.at >= since)
    )
    if member_ids is not None:
        made = made.where(Booking.member_id.in_(member_ids))
        cancels = cancels.where(Booking.member_id.in_(member_ids))
    for member_id, count in (await s.execute(made.group_by(Booking.member_id))).all():
        out[member_id].bookings = count
    for member_id, booked_at, cancelled_at in (await s.execute(cancels)).all():
        out[member_id].cancelled += 1
        if _aware(cancelled_at) - _aware(booked_at) <= QUICK_CANCEL:
            out[member_id].quick_cancels += 1
    return out


def _masked(member: Member, activity: Activity) -> dict:
    return {"id": member.id, "name": mask_name(member.name), "phone": mask_phone(member.phone),
            "registered": member.created_at, "bookings": activity.bookings, "cancelled": activity.cancelled,
            "quick_cancels": activity.quick_cancels, "suspended_until": member.suspended_until}


async def clusters(s: AsyncSession, *, days: int = 7, now: datetime | None = None) -> list[Cluster]:
    """Groups of :data:`MIN_CLUSTER` or more members registered from one address or device in
    the last ``days`` days, most suspicious first."""
    since = (now or utcnow()) - timedelta(days=days)
    found: list[Cluster] = []
    for kind, column in (("ip", Member.registration_ip_hash), ("device", Member.registration_device_hash)):
        groups = (await s.execute(
            select(column, func.count(Member.id), func.min(Member.created_at), func.max(Member.created_at),
                   func.max(Member.registration_net))
            .where(Member.created_at >= since, column.is_not(None))
            .group_by(column).having(func.count(Member.id) >= MIN_CLUSTER)
            .order_by(func.count(Member.id).desc()).limit(MAX_CLUSTERS)
        )).all()
        for key, size, first, last, net in groups:
            label = (net or "?") if kind == "ip" else f"#{key[:8]}"
            found.append(Cluster(kind, label, key, first, last, size=size))
    for cluster in found:
        column = Member.registration_ip_hash if cluster.kind == "ip" else Member.registration_device_hash
        members = (await s.scalars(
            select(Member).where(Member.created_at >= since, column == cluster.key).order_by(Member.id)
        )).all()
        activity = await _activity(s, since, [m.id for m in members])
        cluster.members = [_masked(m, activity[m.id]) for m in members[:SHOWN_MEMBERS]]
        cluster.bookings = sum(activity[m.id].bookings for m in members)
        cluster.cancelled = sum(activity[m.id].cancelled for m in members)
        cluster.quick_cancels = sum(activity[m.id].quick_cancels for m in members)
    return sorted(found, key=lambda c: (-c.score, c.kind, c.label))


async def book_then_cancel(s: AsyncSession, *, days: int = 7, now: datetime | None = None) -> list[dict]:
    """Members with :data:`MIN_QUICK_CANCELS` or more bookings cancelled within
    :data:`QUICK_CANCEL` of booking in the last ``days`` days, most first."""
    since = (now or utcnow()) - timedelta(days=days)
    activity = await _activity(s, since)
    suspects = [member_id for member_id, a in activity.items() if a.quick_cancels >= MIN_QUICK_CANCELS]
    if not suspects:
        return []
    members = (await s.scalars(select(Member).where(Member.id.in_(suspects)))).all()
    rows = [_masked(m, activity[m.id]) for m in members]
    return sorted(rows, key=lambda r: (-r["quick_cancels"], -r["cancelled"], r["id"]))[:MAX_CLUSTERS]
