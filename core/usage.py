"""Usage a plugin reports for metering: :func:`report_usage` writes it into the outbox in the
caller's transaction, and the ``usage.reported`` handler hands it to ``guahao_usage_reported``
after commit (licensing appends it to the city's ledger, once per ``source_id``).

Core's own billable facts (bookings, payments, messages, registrations) reach licensing as the
domain events they already are; this is for facts only a plugin sees, such as a phone call's
minutes or a third-party API call.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.outbox import emit
from guahao.tenants.clock import utcnow


def report_usage(
    s: AsyncSession,
    *,
    meter: str,
    quantity: int,
    source_id: str,
    occurred_at: datetime | None = None,
    dimensions: dict[str, str] | None = None,
) -> None:
    """Report ``quantity`` of ``meter`` (``phone.minutes``…) for the current city.

    Parameters:
        s: the session whose transaction makes the billable change (nothing is reported if it
            rolls back).
        meter: the meter's name, as invoices and exports show it.
        quantity: a whole number in the meter's unit (minutes, calls, fen).
        source_id: what the usage came from, unique for the fact (``call:CA123``): a retry
            that reports it again is counted once.
        occurred_at: when it happened (UTC); default now.
        dimensions: short labels to break the usage down by (``{"channel": "ivr"}``).
    """
    emit(
        s,
        "usage.reported",
        {
            "meter": meter,
            "quantity": int(quantity),
            "source_id": source_id,
            "occurred_at": (occurred_at or utcnow()).isoformat(),
            "dimensions": {str(k): str(v) for k, v in (dimensions or {}).items()},
        },
    )
