"""Counting a city's past: the ledger rows its own records imply, for a city that ran before
licensing metered it (an upgrade) or whose history was loaded in bulk (the demo).

The facts are read from core's records — booking event histories, messages sent, members
registered — and turned into usage by the same functions the live hooks use
(``ledger.metering``), under the same source ids, so a fact already counted live is left out
and running this twice adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from guahao.core.models import Booking, BookingEvent, Member, Notification
from guahao.plugin_api import city_session

from .ledger.append import append
from .ledger.metering import BILLED_KINDS, booking_events_usage, member_usage, notification_usage

BATCH = 2_000
"""Records read and appended per transaction."""


@dataclass(frozen=True)
class Backfilled:
    """Rows added to the ledger, by the kind of record they came from."""

    bookings: int
    messages: int
    members: int

    @property
    def total(self) -> int:
        return self.bookings + self.messages + self.members


def _event(e, b) -> dict:
    """A booking event as the ``booking.event`` outbox message carries it."""
    return {
        "kind": e.kind, "booking_id": b.id, "member_id": b.member_id, "session_id": b.session_id,
        "period_id": b.period_id, "hospital_id": b.hospital_id, "channel": b.channel, "status": str(b.status),
        "fee_fen": b.fee_fen, "at": e.at.isoformat(), **({"data": e.data} if e.data else {}),
    }


async def _bookings(rt, city) -> int:
    added, after = 0, 0
    while True:
        async with city_session(rt, city) as s:
            rows = (await s.execute(
                select(BookingEvent, Booking).join(Booking, Booking.id == BookingEvent.booking_id)
                .where(BookingEvent.kind.in_(BILLED_KINDS), BookingEvent.id > after)
                .order_by(BookingEvent.id).limit(BATCH)
            )).all()
            if not rows:
                return added
            after = rows[-1][0].id
            added += await append(s, await booking_events_usage(s, city, [_event(e, b) for e, b in rows]))


def _channels(plugins) -> dict[str, str]:
    """Sender name → the channel it delivers on (its first)."""
    return {sender.name: (list(sender.channels) or ["sms"])[0] for sender in plugins.notification_senders()}


async def _messages(rt, city) -> int:
    channels = _channels(await rt.plugins.for_city(city))
    added, after = 0, 0
    while True:
        async with city_session(rt, city) as s:
            rows = (await s.scalars(
                select(Notification).where(Notification.status == "sent", Notification.id > after)
                .order_by(Notification.id).limit(BATCH)
            )).all()
            if not rows:
                return added
            after = rows[-1].id
            usage = [notification_usage({
                "id": n.id, "kind": n.kind, "channel": channels.get(n.sender, "sms"), "chars": len(n.body or ""),
                "sent_at": (n.sent_at or n.created_at).isoformat(),
            }) for n in rows]
            added += await append(s, usage)


async def _members(rt, city) -> int:
    added, after = 0, 0
    while True:
        async with city_session(rt, city) as s:
            rows = (await s.execute(
                select(Member.id, Member.created_at, Member.registered_by).where(Member.id > after)
                .order_by(Member.id).limit(BATCH)
            )).all()
            if not rows:
                return added
            after = rows[-1].id
            usage = [u for r in rows for u in member_usage(
                {"kind": "registered", "member_id": r.id, "at": r.created_at.isoformat(), "registered_by": r.registered_by}
            )]
            added += await append(s, usage)


async def backfill(rt, city) -> Backfilled:
    """Count what ``city``'s records hold and its ledger lacks; returns the rows added."""
    return Backfilled(await _bookings(rt, city), await _messages(rt, city), await _members(rt, city))
