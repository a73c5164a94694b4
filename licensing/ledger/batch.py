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

from guahao.plugin_api import city_session

from .append import append

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
    """Drop what this process remembers for ``rt``: it meters as a newly started process would."""
    _state.pop(rt, None)


async def meter(rt, city, ids: list[str] | None, own, waiting) -> int:
    """Count an event's facts, with the city's waiting ones; returns the rows added.

    Parameters:
        ids: the source ids the event counts, when they follow from the event alone (``None``
            when they need the database, e.g. a refund's history); all known → nothing to do.
        own: ``async (session) -> list[Usage]``, the event's own facts.
        waiting: ``async (session, after) -> (list[Usage], last id)``, the facts of the city's
            metered outbox messages waiting with an id above ``after`` (at most
            :data:`PEEK_LIMIT` of them), and the last id read.
    """
    known = _city(rt, city.id)
    if ids is not None and known.knows(ids):
        return 0
    async with known.lock:
        if ids is not None and known.knows(ids):
            return 0
        async with city_session(rt, city) as s:
            items = await own(s)
            more, last = await waiting(s, known.read_up_to)
            items += more
            added = await append(s, items)
        known.remember(i.source_id for i in items)
        known.read_up_to = last
    return added
