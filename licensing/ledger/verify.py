"""Checking a city's chain: every row's hash recomputed from its content and its
predecessor's hash, sequence numbers without gaps, and the head pointing at the last row."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.plugin_api import current_city

from . import chain
from .models import UsageChainHead, UsageEvent

_COLUMNS = (
    UsageEvent.id, UsageEvent.city_id, UsageEvent.seq, UsageEvent.meter, UsageEvent.quantity, UsageEvent.dimensions,
    UsageEvent.occurred_at, UsageEvent.source_id, UsageEvent.recorded_at, UsageEvent.prev_hash, UsageEvent.hash,
)


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found: ``ok``, the rows read, and the first row that does not match."""

    ok: bool
    rows: int
    bad_seq: int | None = None
    bad_id: int | None = None
    problem: str = ""


async def verify(s: AsyncSession, *, batch: int = 20_000) -> Verdict:
    """Recompute the current city's chain from its first row (streamed in batches)."""
    city_id = current_city().id
    expected_prev, expected_seq, rows = chain.GENESIS, 1, 0
    stmt = (
        select(*_COLUMNS).where(UsageEvent.city_id == city_id).order_by(UsageEvent.seq)
        .execution_options(yield_per=batch)
    )
    result = await s.stream(stmt)
    async for part in result.partitions(batch):
        for row in part:
            rows += 1
            problem = ""
            if row.seq != expected_seq:
                problem = f"sequence number {row.seq} where {expected_seq} was expected (a row is missing)"
            elif row.prev_hash != expected_prev:
                problem = "its previous-row hash does not match the row before it"
            elif row.hash != chain.row_hash(expected_prev, row):
                problem = "its content does not match its hash (the row was changed)"
            if problem:
                await result.close()
                return Verdict(False, rows, row.seq, row.id, problem)
            expected_prev, expected_seq = row.hash, row.seq + 1
    head = (await s.execute(select(UsageChainHead.seq, UsageChainHead.hash).where(UsageChainHead.city_id == city_id))).first()
    last_seq = expected_seq - 1
    if head is not None and (head.seq != last_seq or head.hash != expected_prev):
        return Verdict(False, rows, head.seq, None,
                       f"the chain head says row {head.seq} comes last but the ledger ends at row {last_seq} "
                       "(rows at the end were removed)")
    return Verdict(True, rows)
