"""Reading the ledger: totals of a period per meter (what invoices bill), with the rows they
came from named by their first and last sequence number and hash."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.plugin_api import current_city

from .models import UsageEvent


@dataclass(frozen=True)
class MeterTotal:
    """The sum of one meter (or of one value of a dimension of it) over a period."""

    meter: str
    quantity: int
    rows: int
    first_seq: int
    last_seq: int
    first_hash: str
    last_hash: str
    dimension: str = ""  # set when the total is one value's, e.g. channel
    value: str = ""


async def period_totals(
    s: AsyncSession, start: datetime, end: datetime, *, by: Mapping[str, str] | None = None
) -> list[MeterTotal]:
    """Totals of the current city's rows with ``start <= occurred_at < end``.

    Parameters:
        by: ``{meter: dimension}`` to split a meter by one of its dimensions as well
            (``{"notification.sent": "channel"}`` adds one total per channel).
    """
    city_id = current_city().id
    span = (UsageEvent.city_id == city_id, UsageEvent.occurred_at >= start, UsageEvent.occurred_at < end)
    aggregates = (func.sum(UsageEvent.quantity), func.count(), func.min(UsageEvent.seq), func.max(UsageEvent.seq))
    found: list[tuple[str, str, str, tuple]] = []
    per_meter = select(UsageEvent.meter, *aggregates).where(*span).group_by(UsageEvent.meter)
    for meter, q, n, lo, hi in (await s.execute(per_meter)).all():
        found.append((meter, "", "", (q, n, lo, hi)))
    for meter, dimension in (by or {}).items():
        value = UsageEvent.dimensions[dimension].as_string()
        stmt = select(value, *aggregates).where(*span, UsageEvent.meter == meter).group_by(value)
        for v, q, n, lo, hi in (await s.execute(stmt)).all():
            found.append((meter, dimension, v or "", (q, n, lo, hi)))
    seqs = {x for *_, (_, _, lo, hi) in found for x in (lo, hi)}
    hashes: dict[int, str] = {}
    if seqs:
        ends = select(UsageEvent.seq, UsageEvent.hash).where(UsageEvent.city_id == city_id, UsageEvent.seq.in_(seqs))
        hashes = {seq: h for seq, h in (await s.execute(ends)).all()}
    return [
        MeterTotal(meter, int(q or 0), int(n), int(lo), int(hi), hashes[lo], hashes[hi], dimension, value)
        for meter, dimension, value, (q, n, lo, hi) in found
    ]
