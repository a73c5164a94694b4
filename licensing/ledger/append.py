"""Appending to a city's ledger: new facts join the chain, facts already counted do not.

All appends of a city take its chain head's row lock first (an ``UPDATE … RETURNING`` that
PostgreSQL locks and SQLite serialises), so rows chain in one order with no gaps. A fact is
counted once per ``source_id``: under the lock, ids already in the ledger are left out, and
the unique constraint ``uq_usage_source`` refuses any that slip past (the transaction then
fails and is retried by the outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.plugin_api import current_city, utcnow

from . import chain
from .meters import METERS
from .models import UsageChainHead, UsageEvent

_INSERT = insert(UsageEvent.__table__)


@dataclass(frozen=True)
class Usage:
    """A fact to count: ``quantity`` of ``meter`` from ``source_id`` at ``occurred_at``."""

    meter: str
    quantity: int
    source_id: str
    occurred_at: datetime
    dimensions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.meter not in METERS:
            raise ValueError(f"unknown meter {self.meter!r}")
        if not self.source_id or len(self.source_id) > 200:
            raise ValueError("a usage needs a source id of 1 to 200 characters")


async def _lock_head(s: AsyncSession, city_id: int, now: datetime) -> tuple[int, str]:
    stmt = (
        update(UsageChainHead)
        .where(UsageChainHead.city_id == city_id)
        .values(updated_at=now)
        .returning(UsageChainHead.seq, UsageChainHead.hash)
        .execution_options(synchronize_session=False)
    )
    row = (await s.execute(stmt)).first()
    if row is not None:
        return int(row.seq), row.hash
    # The city's first fact: start its chain. A concurrent first append waits on the unique
    # index, then finds the row.
    try:
        async with s.begin_nested():
            s.add(UsageChainHead(seq=0, hash=chain.GENESIS, updated_at=now))
    except IntegrityError:
        pass
    row = (await s.execute(stmt)).first()
    assert row is not None
    return int(row.seq), row.hash


async def append(s: AsyncSession, items: Sequence[Usage], *, now: datetime | None = None) -> int:
    """Add the items whose source id the current city's ledger lacks; return how many.

    Runs in the caller's transaction (a ``city_session``): the rows and the new head commit
    together or not at all.
    """
    if not items:
        return 0
    city_id = current_city().id
    now = now or utcnow()
    seq, head = await _lock_head(s, city_id, now)
    ids = list(dict.fromkeys(i.source_id for i in items))
    known = set(
        (await s.scalars(select(UsageEvent.source_id).where(UsageEvent.city_id == city_id, UsageEvent.source_id.in_(ids)))).all()
    )
    rows = []
    for item in items:
        if item.source_id in known:
            continue
        known.add(item.source_id)
        seq += 1
        row = {
            "city_id": city_id,
            "seq": seq,
            "meter": item.meter,
            "quantity": int(item.quantity),
            "dimensions": {str(k): str(v) for k, v in item.dimensions.items()},
            "occurred_at": item.occurred_at,
            "source_id": item.source_id,
            "recorded_at": now,
        }
        row["prev_hash"] = head
        head = row["hash"] = chain.link(head, chain.canonical(**{k: row[k] for k in _CANONICAL}))
        rows.append(row)
    if not rows:
        return 0
    await (await s.connection()).execute(_INSERT, rows)
    await s.execute(
        update(UsageChainHead)
        .where(UsageChainHead.city_id == city_id)
        .values(seq=seq, hash=head, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return len(rows)


_CANONICAL = ("city_id", "seq", "meter", "quantity", "dimensions", "occurred_at", "source_id", "recorded_at")
