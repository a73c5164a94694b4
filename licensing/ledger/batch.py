"""Metering in batches: one transaction counts every metered event of a city that waits in the
outbox, so the busy minutes after a slot release cost one append per batch, not one per event.

A hook call (a booking, member or notification event, a reported usage) is metered like this:

1. the source ids it would count are worked out from the event alone; if this process has
   already seen them committed to the ledger (a recent batch counted them), it is done — no
   database work at all;
2. otherwise, under a per-city lock of the process, a ``city_session`` reads the city's other
   metered outbox messages still ``pending`` or ``queued`` (oldest first, at most
   :data:`PEEK_LIMIT`, after the last one this process read), works out their facts together
   with this event's, and appends them all (``append``: the chain head's lock, ids already in
   the ledger left out); after the commit their source ids join the process's memory of
   counted ids.

An outbox message is written in the transaction of the change it announces, so a pending
message is a fact that happened: counting it before its own handler runs is counting it once.
Its handler still runs and still calls the hook — which then finds its ids counted. Nothing here
replaces the ledger's guarantees: the memory only ever holds ids of committed rows, a message
the batches passed over (one committed late, below the last id read) is counted by its own
call, and every miss falls back to the same append, whose source-id filter and unique
constraint decide.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable

from sqlalchemy import select

from guahao.core.models import Notification, OutboxMessage
from guahao.plugin_api import city_session

from .append import Usage, append

TOPICS = ("booking.event", "member.event", "notification.sent", "usage.reported")
PEEK_LIMIT = 500
"""The most outbox messages one batch reads besides its own event."""
REMEMBERED = 50_000
"""Counted source ids a process remembers per city (the oldest are forgotten first)."""


class _City:
    """What a process knows of one city's ledger: ids it saw committed, and the batch lock."""

    def __init__(self) -> None:
        self.counted: dict[str, None] = {}
        self.lock = asyncio.Lock()
        self.read_up_to = 0  # the last outbox id a committed batch read

    def knows(self, ids: Iterable[str]) -> bool:
        return all(i in self.counted for i in ids)

    def remember(self, ids: Iterable[str]) -> None:
        for i in ids:
            self.counted[i] = None
        excess = len(self.counted) - REMEMBERED
        if excess > 0:
            for old in list(self.counted)[:excess]:
                del self.counted[old]


_state: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _city(rt, city_id: int) -> _City:
    per_rt = _state.get(rt)
    if per_rt is None:
        per_rt = _state[rt] = {}
    known = per_rt.get(city_id)
    if known is None:
        known = per_rt[city_id] = _City()
    return known


def forget(rt) -> None:
    """Drop what this process remembers for ``rt`` (tests that rewrite a database)."""
    _state.pop(rt, None)


async def _waiting(s, city, after: int) -> tuple[list[Usage], int]:
    """The facts of the city's metered messages that wait in the outbox with an id above
    ``after``, and the last id read (malformed messages are left to their own handler, which
    reports the error)."""
    from guahao.core.notifications import notification_event

    from .metering import booking_events_usage, member_usage, reported_usage

    rows = (
        await s.execute(
            select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.payload)
            .where(OutboxMessage.topic.in_(TOPICS), OutboxMessage.status.in_(("pending", "queued")),
                   OutboxMessage.id > after)
            .order_by(OutboxMessage.id)
            .limit(PEEK_LIMIT)
        )
    ).all()
    bookings, out = [], []
    sent: dict[int, str] = {}
    last = after
    for outbox_id, topic, payload in rows:
        last = max(last, outbox_id)
        payload = dict(payload or {})
        try:
            if topic == "booking.event":
                bookings.append(payload)
            elif topic == "member.event":
                out += member_usage(payload)
            elif topic == "usage.reported":
                out.append(reported_usage(payload))
            elif topic == "notification.sent":
                sent[int(payload["notification_id"])] = str(payload.get("channel", "sms"))
        except (KeyError, TypeError, ValueError):
            continue
    if sent:
        from .metering import notification_usage

        notes = (await s.scalars(select(Notification).where(Notification.id.in_(sent)))).all()
        out += [notification_usage(notification_event(n, sent[n.id])) for n in notes]
    if bookings:
        out += await booking_events_usage(s, city, bookings, strict=False)
    return out, last


async def meter(rt, city, ids: list[str] | None, own) -> int:
    """Count an event's facts, with the city's waiting ones; returns the rows added.

    Parameters:
        ids: the source ids the event counts, when they follow from the event alone (``None``
            when they need the database, e.g. a refund's history); all known → nothing to do.
        own: ``async (session) -> list[Usage]``, the event's own facts.
    """
    known = _city(rt, city.id)
    if ids is not None and known.knows(ids):
        return 0
    async with known.lock:
        if ids is not None and known.knows(ids):
            return 0
        async with city_session(rt, city) as s:
            items = await own(s)
            waiting, last = await _waiting(s, city, known.read_up_to)
            items += waiting
            added = await append(s, items)
        known.remember(i.source_id for i in items)
        known.read_up_to = last
    return added
