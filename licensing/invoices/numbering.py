"""Gap-free invoice numbers: one series per kind and calendar year for the whole platform
(``GH-2026-000123`` for invoices, ``GHCN-2026-000007`` for credit notes).

A number is taken inside the finalizing transaction by ``UPDATE … SET last_number =
last_number + 1 … RETURNING``: the row lock makes concurrent finalizations wait for one
another (PostgreSQL row lock; SQLite's one writer), so no two share a number, and a
finalization that rolls back gives its number back, so none is skipped.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .models import InvoiceNumberSeries

SERIES = {"invoice": "GH", "credit_note": "GHCN"}


def format_number(kind: str, year: int, n: int) -> str:
    return f"{SERIES[kind]}-{year}-{n:06d}"


async def take_number(s: AsyncSession, kind: str, year: int) -> str:
    """The next number of ``kind``'s series for ``year`` (in the caller's transaction)."""
    series = SERIES[kind]
    stmt = (
        update(InvoiceNumberSeries)
        .where(InvoiceNumberSeries.series == series, InvoiceNumberSeries.year == year)
        .values(last_number=InvoiceNumberSeries.last_number + 1)
        .returning(InvoiceNumberSeries.last_number)
        .execution_options(synchronize_session=False)
    )
    n = (await s.execute(stmt)).scalar()
    if n is None:
        # The year's first number: start the series. A concurrent first finalization waits
        # on the primary key, then finds the row.
        try:
            async with s.begin_nested():
                s.add(InvoiceNumberSeries(series=series, year=year, last_number=0))
        except IntegrityError:
            pass
        n = (await s.execute(stmt)).scalar()
    assert n is not None
    return format_number(kind, year, int(n))
