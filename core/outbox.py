"""Writing side effects into the outbox, inside the caller's transaction.

Whatever a change causes later — a notification, a HIS push, a hold that runs out, a
lifecycle event for plugins — is a row written with the change, so it happens exactly when
the change commits and is never lost when a worker or Redis is down. ``core.jobs`` runs them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import OutboxMessage
from guahao.tenants.clock import utcnow


def emit(s: AsyncSession, topic: str, payload: dict, *, due_at: datetime | None = None) -> OutboxMessage:
    """Add a side effect to the current transaction.

    Parameters:
        s: the session whose transaction makes the change.
        topic: handler name, e.g. ``notify``, ``booking.hold_expiry``, ``booking.event``.
        payload: JSON-serialisable arguments for the handler.
        due_at: run not before this time (UTC); default now.
    """
    msg = OutboxMessage(topic=topic, payload=payload, due_at=due_at or utcnow())
    s.add(msg)
    return msg
