"""What every outbox handler shares: the job's context, the handler type, the retry rules.

Kept apart from the runner so handlers (core's and plugins') import it without importing the
runner that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from guahao.tenants.context import CityContext

MAX_ATTEMPTS = 8
"""Attempts after which a message is *failing*: shown to staff (and, for a topic in
:data:`GIVES_UP`, failed for good)."""
BACKOFF_BASE_SECONDS = 10
BACKOFF_MAX_SECONDS = 900
"""The longest wait between two attempts: a far end back after an outage hears from every
waiting message within a quarter of an hour."""
GIVES_UP = frozenset({"notify"})
"""Topics that stop after :data:`MAX_ATTEMPTS` (``failed``, visible to staff): a message to a
person is of no use late. Every other topic (HIS pushes, refunds and voids, timeouts, events
for plugins and licensing) keeps retrying at :data:`BACKOFF_MAX_SECONDS` until it succeeds or
an administrator abandons it."""


@dataclass(frozen=True)
class JobContext:
    """What a handler gets besides its payload.

    Attributes:
        rt: the runtime (database, plugins, settings).
        city: the city the message belongs to (also the current city while it runs).
        plugins: the city's plugin set.
        message_id: the outbox row id (stable across retries; a good idempotency key).
        attempt: 1 for the first run, 2 for the first retry, …
    """

    rt: Any
    city: CityContext
    plugins: Any
    message_id: int
    attempt: int


Handler = Callable[[JobContext, dict], Awaitable[Any]]


def backoff_seconds(failures: int) -> float:
    """Delay before the next try after ``failures`` failed attempts: 10 s, 20 s, 40 s … ≤ 15 min."""
    return float(min(BACKOFF_BASE_SECONDS * 2 ** max(failures - 1, 0), BACKOFF_MAX_SECONDS))
