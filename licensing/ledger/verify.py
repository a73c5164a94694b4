"""Checking a city's chain: every row's hash recomputed from its content and its
predecessor's hash, sequence numbers without gaps, and the head pointing at the last row.

The rows are streamed in chain order. On PostgreSQL they are read straight from the driver
through a cursor of the session's transaction (the row-level security of the app role still
applies), with the times already spelled as the chain spells them (``to_char`` in UTC) and the
dimensions as JSON text: a million rows are checked without building a million ORM rows.
Elsewhere (SQLite) they come through SQLAlchemy.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
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
_UTC_TEXT = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
_PG_ROWS = (
    "SELECT id, seq, meter, quantity, dimensions::text, " + _UTC_TEXT.format("occurred_at") + ", source_id, "
    + _UTC_TEXT.format("recorded_at") + ", prev_hash, hash FROM usage_events WHERE city_id = $1 ORDER BY seq"
)

Row = tuple  # (id, seq, meter, quantity, dimensions, occurred text, source id, recorded text, prev_hash, hash)


@dataclass(frozen=True)
class Verdict:
    """What ``verify`` found: ``ok``, the rows read, and the first row that does not match."""

    ok: bool
    rows: int
    bad_seq: int | None = None
    bad_id: int | None = None
    problem: str = ""


async def _pg_rows(s: AsyncSession, city_id: int, batch: int) -> AsyncIterator[Row]:
    raw = await (await s.connection()).get_raw_connection()
    conn = raw.driver_connection  # asyncpg, inside the session's transaction
    cursor = await conn.cursor(_PG_ROWS, city_id)
    dims: dict[str | None, str] = {}  # stored JSON → canonical text (a ledger has few distinct ones)
    while rows := await cursor.fetch(batch):
        if len(dims) > 10_000:
            dims.clear()
        for r in rows:
            text = dims.get(r[4])
            if text is None:
                text = dims[r[4]] = chain.dimensions_text(json.loads(r[4]) if r[4] else {})
            yield (r[0], r[1], r[2], r[3], text, r[5], r[6], r[7], r[8], r[9])


async def _orm_rows(s: AsyncSession, city_id: int, batch: int) -> AsyncIterator[Row]:
    stmt = select(*_COLUMNS).where(UsageEvent.city_id == city_id).order_by(UsageEvent.seq).execution_options(yield_per=batch)
    result = await s.stream(stmt)
    utc_text = chain.utc_text
    try:
        async for part in result.partitions(batch):
            for r in part:
                yield (r.id, r.seq, r.meter, r.quantity, r.dimensions or {}, utc_text(r.occurred_at), r.source_id,
                       utc_text(r.recorded_at), r.prev_hash, r.hash)
    finally:
        await result.close()


async def verify(s: AsyncSession, *, batch: int = 20_000) -> Verdict:
    """Recompute the current city's chain from its first row (streamed in batches)."""
    city_id = current_city().id
    expected_prev, expected_seq, rows = chain.GENESIS, 1, 0
    content, link = chain.content, chain.link
    stream = _pg_rows(s, city_id, batch) if s.bind.dialect.name == "postgresql" else _orm_rows(s, city_id, batch)
    try:
        async for row_id, seq, meter, quantity, dimensions, occurred, source_id, recorded, prev_hash, digest in stream:
            rows += 1
            problem = ""
            if seq != expected_seq:
                problem = f"sequence number {seq} where {expected_seq} was expected (a row is missing)"
            elif prev_hash != expected_prev:
                problem = "its previous-row hash does not match the row before it"
            elif digest != link(expected_prev, content(city_id, seq, meter, quantity, dimensions, occurred, source_id, recorded)):
                problem = "its content does not match its hash (the row was changed)"
            if problem:
                return Verdict(False, rows, seq, row_id, problem)
            expected_prev, expected_seq = digest, seq + 1
    finally:
        await stream.aclose()
    head = (await s.execute(select(UsageChainHead.seq, UsageChainHead.hash).where(UsageChainHead.city_id == city_id))).first()
    last_seq = expected_seq - 1
    if head is not None and (head.seq != last_seq or head.hash != expected_prev):
        return Verdict(False, rows, head.seq, None,
                       f"the chain head says row {head.seq} comes last but the ledger ends at row {last_seq} "
                       "(rows at the end were removed)")
    return Verdict(True, rows)
