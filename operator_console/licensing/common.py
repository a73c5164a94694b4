"""What the licensing pages share: labels of states, refusals in the person's language, an
invoice as a page shows it, its PDF, the city a vendor page names."""

from __future__ import annotations

from starlette.responses import HTMLResponse, Response

from guahao.core.errors import DomainError, NotFound
from guahao.licensing.contracts.money import yuan
from guahao.licensing.invoices.documents import document_context, invoice_html, invoice_pdf
from guahao.licensing.invoices.queries import get_invoice, invoice_lines
from guahao.tenants.context import CityContext

from ..kit.files import content_disposition
from ..kit.pages import Console

INVOICE_STATES = {"draft": "Draft", "finalized": "Issued", "paid": "Paid", "voided": "Voided", "discarded": "Replaced"}
INVOICE_KINDS = {"invoice": "Invoice", "credit_note": "Credit note"}
CITY_SEES = ("finalized", "paid", "voided")
"""The invoices a city's operator sees: issued ones (drafts are the vendor's working copies
until they are finalized)."""

LICENCE_STATES = {
    "valid": "Licence valid", "expiring": "Expiring", "grace": "In grace", "restricted": "Restricted (no new bookings)",
    "unlicensed": "Unlicensed", "not_yet_valid": "Not yet valid",
}
LICENCE_TAGS = {"valid": "on", "expiring": "warn", "grace": "warn", "restricted": "bad", "not_yet_valid": "bad",
                "unlicensed": "off"}
LIMIT_LABELS = {"max_hospitals": "Hospitals", "max_bookings_per_month": "Bookings a month", "channels": "Channels"}


def say(c: Console, exc: DomainError) -> str:
    """A refusal in the person's language (a licence's refusal carries its English apart)."""
    english = getattr(exc, "message_en", None)
    if english and c.lang == "en":
        return english
    return c.refusal(exc)


def helpers(c: Console) -> dict:
    """Template helpers of every licensing page."""
    return {
        "yuan": yuan,
        "invoice_state": lambda code: c._(INVOICE_STATES.get(code, code)),
        "invoice_kind": lambda code: c._(INVOICE_KINDS.get(code, code)),
        "licence_state": lambda code: c._(LICENCE_STATES.get(code, code)),
        "licence_tag": lambda code: LICENCE_TAGS.get(code, "off"),
        "limit_label": lambda code: c._(LIMIT_LABELS.get(code, code)),
    }


async def invoice_view(s, invoice_id: int, city: CityContext, *, city_sees_only: bool) -> dict:
    """One invoice of the session's city as its page shows it: the document's context (lines
    with their meters and ledger rows, totals) and the credit note or invoice it pairs with.
    A city's operator does not see drafts (404, as if there were none)."""
    invoice = await get_invoice(s, invoice_id)
    if city_sees_only and invoice.status not in CITY_SEES:
        raise NotFound(f"账单 #{invoice_id} / invoice {invoice_id}", code="invoice_not_found")
    lines = await invoice_lines(s, invoice_id)
    pair = None
    other = invoice.credit_note_id or invoice.credit_for_id
    if other:
        pair = await get_invoice(s, other)
    ctx = document_context(invoice, lines, city_name=city.name, credit_for=pair.number if pair and invoice.credit_for_id else "")
    return {**ctx, "pair": pair}


async def invoice_document(c: Console, s, invoice_id: int, *, city_sees_only: bool) -> Response:
    """The printable HTML document of an invoice (a page of its own, for printing)."""
    if city_sees_only:
        await _visible(s, invoice_id)
    return c.finish(HTMLResponse(await invoice_html(s, invoice_id)))


async def invoice_pdf_response(c: Console, s, invoice_id: int, city: CityContext, *, city_sees_only: bool) -> Response:
    """The invoice as a PDF download."""
    invoice = await _visible(s, invoice_id) if city_sees_only else await get_invoice(s, invoice_id)
    data = await invoice_pdf(s, invoice_id)
    name = invoice.number or f"draft-{invoice.id}"
    names = (f"账单_{name}_{city.slug}_{invoice.period}.pdf", f"invoice_{name}_{city.slug}_{invoice.period}.pdf")
    return c.finish(Response(data, media_type="application/pdf",
                             headers={"Content-Disposition": content_disposition(*names)}))


async def _visible(s, invoice_id: int):
    invoice = await get_invoice(s, invoice_id)
    if invoice.status not in CITY_SEES:
        raise NotFound(f"账单 #{invoice_id} / invoice {invoice_id}", code="invoice_not_found")
    return invoice


async def city_by_slug(c: Console, slug: str) -> CityContext:
    """The active city a vendor page names (404 otherwise)."""
    city = await c.rt.resolver.by_slug(slug)
    if city is None:
        raise NotFound("city", code="city_not_found")
    return city
