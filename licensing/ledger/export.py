"""A period's ledger as a file: one row per ledger event, CSV (UTF-8 with BOM) or XLSX.

Columns: ``seq``, ``meter``, ``quantity``, ``occurred_at`` (UTC, ISO 8601), ``source_id``,
``dimensions`` (JSON), ``prev_hash``, ``hash`` — enough to re-check the chain outside the
platform. Text a spreadsheet would run as a formula is written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.plugin_api import current_city

from .chain import utc_text
from .models import UsageEvent

COLUMNS = ("seq", "meter", "quantity", "occurred_at", "source_id", "dimensions", "prev_hash", "hash")
FORMATS = ("csv", "xlsx")


def safe_text(value: str) -> str:
    """Text that a spreadsheet shows as text: a leading ``= + - @`` (or tab, CR) is escaped."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


async def rows(s: AsyncSession, start: datetime, end: datetime) -> AsyncIterator[list]:
    """The current city's rows of ``[start, end)`` in chain order, as export cells."""
    stmt = (
        select(UsageEvent.seq, UsageEvent.meter, UsageEvent.quantity, UsageEvent.occurred_at, UsageEvent.source_id,
               UsageEvent.dimensions, UsageEvent.prev_hash, UsageEvent.hash)
        .where(UsageEvent.city_id == current_city().id, UsageEvent.occurred_at >= start, UsageEvent.occurred_at < end)
        .order_by(UsageEvent.seq)
        .execution_options(yield_per=10_000)
    )
    result = await s.stream(stmt)
    async for r in result:
        yield [
            r.seq, r.meter, r.quantity, utc_text(r.occurred_at), safe_text(r.source_id),
            safe_text(json.dumps(r.dimensions or {}, ensure_ascii=False, sort_keys=True)), r.prev_hash, r.hash,
        ]


async def export(s: AsyncSession, start: datetime, end: datetime, fmt: str = "csv") -> bytes:
    """The file's bytes (``fmt``: ``csv`` or ``xlsx``)."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\r\n")
        w.writerow(COLUMNS)
        async for cells in rows(s, start, end):
            w.writerow(cells)
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("usage")
    ws.append(list(COLUMNS))
    async for cells in rows(s, start, end):
        ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
