"""Reading invoices: the current city's (its operator's console), every city's (the vendor,
through ``platform_scope``), one invoice with its lines, and the JSON they are shown as."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.plugin_api import NotFound
from guahao.tenants.context import CityContext, platform_scope, use_cell
from guahao.tenants.models import City
from guahao.tenants.resolver import city_context

from .models import Invoice, InvoiceLine


async def list_invoices(
    s: AsyncSession, *, period: str | None = None, status: str | None = None, include_discarded: bool = False
) -> list[Invoice]:
    """The current city's invoices and credit notes, newest month first (replaced drafts
    left out unless asked for)."""
    stmt = select(Invoice)
    if period:
        stmt = stmt.where(Invoice.period == period)
    if status:
        stmt = stmt.where(Invoice.status == status)
    elif not include_discarded:
        stmt = stmt.where(Invoice.status != "discarded")
    return list((await s.scalars(stmt.order_by(Invoice.period.desc(), Invoice.id.desc()))).all())  # type: ignore[attr-defined]


async def get_invoice(s: AsyncSession, invoice_id: int) -> Invoice:
    """The current city's invoice ``invoice_id`` (another city's is not found)."""
    invoice = (await s.scalars(select(Invoice).where(Invoice.id == invoice_id))).first()
    if invoice is None:
        raise NotFound(f"账单 #{invoice_id} / invoice {invoice_id}", code="invoice_not_found")
    return invoice


async def invoice_lines(s: AsyncSession, invoice_id: int) -> list[InvoiceLine]:
    """The lines of an invoice of the current city, in order."""
    stmt = select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id).order_by(InvoiceLine.position)
    return list((await s.scalars(stmt)).all())


async def list_all_invoices(
    rt, *, city: str | None = None, period: str | None = None, status: str | None = None
) -> list[tuple[CityContext, Invoice]]:
    """Every city's invoices for the vendor (``platform_scope``), newest month first; filter by
    city slug, period and state (replaced drafts left out unless ``status="discarded"``)."""
    rows: list = []
    with platform_scope("vendor: invoices of every city"):
        for cell in rt.db.cell_names:  # each database cell's cities (its copies of cities moved away left out)
            with use_cell(cell):
                async with rt.db.transaction() as s:
                    stmt = select(Invoice, City).join(City, City.id == Invoice.city_id).where(City.cell == cell)
                    if city:
                        stmt = stmt.where(City.slug == city)
                    if period:
                        stmt = stmt.where(Invoice.period == period)
                    stmt = stmt.where(Invoice.status == status) if status else stmt.where(Invoice.status != "discarded")
                    rows += (await s.execute(stmt)).all()
    rows.sort(key=lambda r: (r[1].slug, -int(r[0].id or 0)))
    rows.sort(key=lambda r: r[0].period, reverse=True)
    return [(city_context(c), inv) for inv, c in rows]


async def city_of_invoice(rt, invoice_id: int) -> CityContext:
    """The city an invoice belongs to (the vendor's commands and pages address invoices by id)."""
    row = None
    with platform_scope("vendor: the city of an invoice"):
        for cell in rt.db.cell_names:
            with use_cell(cell):
                async with rt.db.transaction() as s:
                    city_id = await s.scalar(select(Invoice.city_id).join(City, City.id == Invoice.city_id)
                                             .where(Invoice.id == invoice_id, City.cell == cell))
            if city_id is not None:
                async with rt.db.transaction() as s:
                    row = await s.get(City, city_id)
                break
    if row is None:
        raise NotFound(f"账单 #{invoice_id} / invoice {invoice_id}", code="invoice_not_found")
    return city_context(row)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def line_as_dict(line: InvoiceLine) -> dict:
    return {
        "position": line.position, "code": line.code, "description": line.description,
        "description_en": line.description_en, "meter": line.meter, "meter_value": line.meter_value,
        "span_start": _iso(line.span_start), "span_end": _iso(line.span_end), "contract_version": line.contract_version,
        "quantity": line.quantity, "unit": line.unit, "rate": line.rate, "amount_fen": line.amount_fen,
        "ledger": {"rows": line.ledger_rows, "first_seq": line.first_seq, "last_seq": line.last_seq,
                   "first_hash": line.first_hash, "last_hash": line.last_hash},
    }


def invoice_as_dict(invoice: Invoice, lines: list[InvoiceLine] | None = None, *, city: str | None = None) -> dict:
    """An invoice as JSON (``guahao invoice show --json``, the console's download)."""
    out = {
        "id": invoice.id, "city": city, "kind": invoice.kind, "status": invoice.status, "number": invoice.number,
        "period": invoice.period, "period_start": _iso(invoice.period_start), "period_end": _iso(invoice.period_end),
        "issued_on": _iso(invoice.issued_on), "currency": invoice.currency, "subtotal_fen": invoice.subtotal_fen,
        "vat_percent": invoice.vat_percent, "vat_fen": invoice.vat_fen, "total_fen": invoice.total_fen,
        "seller": invoice.seller, "buyer": invoice.buyer, "contract_versions": invoice.contract_versions,
        "notes": invoice.notes, "credit_for_id": invoice.credit_for_id, "credit_note_id": invoice.credit_note_id,
        "created_at": _iso(invoice.created_at), "finalized_at": _iso(invoice.finalized_at),
        "paid_at": _iso(invoice.paid_at), "paid_reference": invoice.paid_reference,
        "voided_at": _iso(invoice.voided_at), "void_reason": invoice.void_reason,
        "stripe_invoice_id": invoice.stripe_invoice_id,
    }
    if lines is not None:
        out["lines"] = [line_as_dict(x) for x in lines]
    return out
