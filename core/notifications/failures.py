"""Messages staff should look at (R9): the ``retrying``, ``failed`` and ``dropped`` notifications of
a city, for the console — what is failing now and what failed or was dropped for good."""

from __future__ import annotations

from sqlalchemy import select

from guahao.core.models import Notification
from guahao.tenants.context import CityContext, use_city

LISTED = ("retrying", "failed", "dropped")  # statuses staff see in ``failed_notifications``


def _mask(recipient: str) -> str:
    if recipient.isdigit() and len(recipient) == 11:
        return f"{recipient[:3]}****{recipient[-4:]}"
    return recipient


async def failed_notifications(rt, city: CityContext, *, limit: int = 100) -> list[dict]:
    """Failing, failed and dropped messages of a city for the staff console, newest first.

    ``status`` is ``retrying`` (the outbox will try again), ``failed`` (for good) or
    ``dropped`` (too late to be of use); ``final`` is false only while a retry is to come.
    """
    with use_city(city):
        async with rt.db.transaction() as s:
            q = (select(Notification).where(Notification.status.in_(LISTED))
                 .order_by(Notification.id.desc()).limit(limit))
            rows = (await s.scalars(q)).all()
    return [
        {
            "id": r.id,
            "kind": r.kind,
            "status": r.status,
            "member_id": r.member_id,
            "booking_id": r.booking_id,
            "sender": r.sender,
            "recipient": _mask(r.recipient),
            "attempts": r.attempts,
            "error": r.error,
            "final": r.status != "retrying",
            "created_at": r.created_at.isoformat() if r.created_at else None,
        }
        for r in rows
    ]
