"""The invoice run: for a month, a draft invoice per city with a contract, priced from the
city's ledger by :mod:`guahao.licensing.contracts.pricing`.

Running again replaces a city's draft of that month (the old one is kept as ``discarded``);
a month already finalized (or paid) is left alone — void it first to invoice it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.plugin_api import ValidationFailed, city_session, current_city, utcnow
from guahao.tenants.context import platform_scope, use_cell
from guahao.tenants.models import City
from guahao.tenants.resolver import city_context

from ..contracts.models import Contract
from ..contracts.money import yuan
from ..contracts.pricing import USAGE_BY, Priced, ProfitNotDeclared, price_period, usage_map
from ..contracts.service import declared_profit, versions_for
from ..contracts.spans import Version, split
from ..contracts.terms import ProfitShareTerms, TermsInvalid
from ..ledger.periods import PeriodInvalid, next_month, parse_month
from ..ledger.query import period_totals
from .models import LIVE, Invoice, InvoiceLine
from .seller import get_seller


@dataclass(frozen=True)
class RunOutcome:
    """What the run did for one city: ``drafted`` (with the draft's id and total) or
    ``skipped`` (with the reason)."""

    city: str
    outcome: str
    invoice_id: int | None = None
    total_fen: int | None = None
    reason: str = ""

    def as_dict(self) -> dict:
        return {"city": self.city, "outcome": self.outcome, "invoice_id": self.invoice_id,
                "total_fen": self.total_fen, "reason": self.reason}


def local_bounds(tz, start: date, end: date) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of the local days ``start`` to ``end`` (exclusive)."""
    return (datetime.combine(start, time.min, tzinfo=tz).astimezone(UTC),
            datetime.combine(end, time.min, tzinfo=tz).astimezone(UTC))


async def price_city_period(s: AsyncSession, period: str, vat_percent: str) -> Priced | None:
    """The current city's month priced from its ledger (``None``: no contract in force).

    Raises:
        ProfitNotDeclared: a profit-share contract and no profit declared for the month.
    """
    tz = current_city().tz
    first = parse_month(period)
    end = next_month(first)
    versions = [Version.of(row) for row in await versions_for(s, first, end)]
    spans = split(versions, first, end)
    if not spans:
        return None
    span_usage = {}
    for sp in spans:
        span_usage[sp.start] = usage_map(await period_totals(s, *local_bounds(tz, sp.start, sp.end), by=USAGE_BY))
    month_usage = usage_map(await period_totals(s, *local_bounds(tz, first, end)))
    profit = None
    if any(isinstance(sp.version.terms, ProfitShareTerms) for sp in spans):
        declared = await declared_profit(s, first.strftime("%Y-%m"))
        profit = declared.profit_fen if declared else None
    return price_period(start=first, end=end, versions=versions, span_usage=span_usage, month_usage=month_usage,
                        profit_fen=profit, vat_percent=vat_percent)


async def live_invoice(s: AsyncSession, period: str) -> Invoice | None:
    """The current city's draft, finalized or paid invoice of ``period``."""
    stmt = select(Invoice).where(Invoice.period == period, Invoice.kind == "invoice", Invoice.status.in_(LIVE))
    return (await s.scalars(stmt)).first()


async def draft_invoice(s: AsyncSession, period: str, *, vat_percent: str, actor: audit.Actor) -> RunOutcome:
    """Draft the current city's invoice of ``period`` (replacing its draft, if any)."""
    city = current_city()
    first = parse_month(period)
    period = first.strftime("%Y-%m")
    live = await live_invoice(s, period)
    if live is not None and live.status != "draft":
        return RunOutcome(city.slug, "skipped", live.id, live.total_fen,
                          f"already {live.status} as {live.number}; void it to invoice the month again")
    try:
        priced = await price_city_period(s, period, vat_percent)
    except (ProfitNotDeclared, TermsInvalid) as exc:
        return RunOutcome(city.slug, "skipped", reason=str(exc))
    if priced is None:
        return RunOutcome(city.slug, "skipped", reason=f"no contract in force in {period}")
    if live is not None:
        live.status = "discarded"
        await s.flush()
    current = (await s.scalars(select(Contract).where(Contract.version == priced.versions[-1]))).one()
    invoice = Invoice(
        period=period, period_start=first, period_end=next_month(first), subtotal_fen=priced.subtotal_fen,
        vat_percent=str(priced.vat_percent), vat_fen=priced.vat_fen, total_fen=priced.total_fen,
        seller=await get_seller(s), buyer=dict(current.buyer), contract_versions=list(priced.versions),
        notes=list(priced.notes), created_at=utcnow(), created_by=f"{actor.label} {actor.name}".strip()[:120],
    )
    s.add(invoice)
    await s.flush()
    s.add_all([
        InvoiceLine(invoice_id=invoice.id, position=i, **{k: getattr(line, k) for k in _LINE_FIELDS})
        for i, line in enumerate(priced.lines, 1)
    ])
    await s.flush()
    audit.record(s, actor, "invoice.draft", target_type="invoice", target_id=invoice.id,
                 summary=f"{period} 账单草稿 {yuan(invoice.total_fen)} 元" + (f"（替换 #{live.id}）" if live else ""),
                 after={"period": period, "total_fen": invoice.total_fen, "lines": len(priced.lines),
                        "replaces": live.id if live else None})
    return RunOutcome(city.slug, "drafted", invoice.id, invoice.total_fen)


_LINE_FIELDS = (
    "code", "description", "description_en", "span_start", "span_end", "contract_version", "amount_fen", "quantity",
    "unit", "rate", "meter", "meter_value", "ledger_rows", "first_seq", "last_seq", "first_hash", "last_hash",
)


async def cities_with_contracts(rt, slug: str | None = None) -> list:
    """The active cities that have a contract (or just ``slug``'s), as city contexts."""
    ids: set[int] = set()
    with platform_scope("invoice run: cities with a contract"):
        for cell in rt.db.cell_names:
            with use_cell(cell):
                async with rt.db.transaction() as s:
                    ids |= set((await s.scalars(select(Contract.city_id).join(City, City.id == Contract.city_id)
                                                .where(City.cell == cell).distinct())).all())
        async with rt.db.transaction() as s:
            stmt = select(City).where(City.active.is_(True)).order_by(City.slug)
            if slug is not None:
                stmt = select(City).where(City.slug == slug)
            rows = (await s.scalars(stmt)).all()
    return [city_context(row) for row in rows if row.id in ids or slug is not None]


async def run_invoices(rt, period: str, *, city: str | None = None, actor: audit.Actor = audit.SYSTEM) -> list[RunOutcome]:
    """The invoice run for ``period`` (``YYYY-MM``) over every city with a contract, or one.

    Each city is drafted in a transaction of its own: one city's problem (no profit
    declared, a month already finalized) is reported and does not stop the others.
    """
    try:
        parse_month(period)
    except PeriodInvalid as exc:
        raise ValidationFailed("period_invalid", f"账期格式应为 2026-11 / {exc}") from None
    out = []
    for ctx in await cities_with_contracts(rt, city):
        async with city_session(rt, ctx) as s:
            out.append(await draft_invoice(s, period, vat_percent=rt.settings.vat_percent, actor=actor))
    return out
