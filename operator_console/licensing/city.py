"""A city's licence and billing pages (its operator, and the vendor inside the city): the
overview, the contract (and the monthly profit a profit-share operator declares), the issued
invoices with their printable document and PDF, and the licence's status. Another city's
pages answer 404 like every city page of the console."""

from __future__ import annotations

from datetime import date, timedelta

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.errors import DomainError
from guahao.licensing.contracts.service import contract_summary, declare_profit, profit_declarations
from guahao.licensing.invoices.queries import list_invoices
from guahao.licensing.ledger.periods import month_of
from guahao.licensing.licences.service import licence_history, licence_status
from guahao.licensing.reports import month_usage
from guahao.tenants.clock import utcnow

from ..kit.pages import Console, console_page
from . import forms
from .common import CITY_SEES, helpers, invoice_document, invoice_pdf_response, invoice_view, say

LATEST = 5


def _today(c: Console) -> date:
    return utcnow().astimezone(c.city.tz).date()


def _version(c: Console, v: dict | None) -> dict | None:
    """A version (``contract_as_dict``) with its model and terms in words."""
    if v is None:
        return None
    return {**v, "label": forms.model_label(v["model"], c.lang), "summary": forms.terms_summary(v["model"], v["terms"], c._)}


def contract_context(c: Console, summary: dict) -> dict:
    """The contract part of a page: the version in force, those scheduled, the history."""
    return {
        "in_force": _version(c, summary["in_force"]),
        "scheduled": [_version(c, v) for v in summary["scheduled"]],
        "history": [_version(c, v) for v in reversed(summary["history"])],
    }


@console_page("licensing.view")
async def overview(c: Console) -> Response:
    today = _today(c)
    async with c.transaction() as s:
        summary = await contract_summary(s, today)
        usage = await month_usage(s, c.city, today.replace(day=1))
        invoices = [i for i in await list_invoices(s) if i.status in CITY_SEES][:LATEST]
    status = await licence_status(c.rt, c.city, with_usage=False)
    headline = {
        "month": usage.month,
        "bookings": usage.totals.get("booking.confirmed", 0),
        "cancelled": usage.totals.get("booking.cancelled", 0),
        "fees_fen": usage.totals.get("fee.paid_fen", 0) - usage.totals.get("fee.refunded_fen", 0),
        "sms": usage.split.get(("notification.sent", "sms"), 0),
        "hospitals": usage.totals.get("hospital.active", 0),
    }
    return c.render("licensing/overview.html", tab="overview", licence=status, usage=headline, invoices=invoices,
                    **contract_context(c, summary), **helpers(c))


def _has_profit_share(summary: dict) -> bool:
    return any(v["model"] == "profit_share" for v in summary["history"])


async def _contract_page(c: Console, *, values: dict | None = None, errors: dict | None = None, error: str = "",
                         status: int = 200) -> Response:
    today = _today(c)
    async with c.transaction() as s:
        summary = await contract_summary(s, today)
        declarations = await profit_declarations(s)
    last_month = today.replace(day=1) - timedelta(days=1)
    values = values if values is not None else {"period": last_month.strftime("%Y-%m")}
    return c.render("licensing/contract.html", status=status, tab="contract", profit_share=_has_profit_share(summary),
                    declarations=declarations, values=values, errors=errors or {}, error=error,
                    may_declare=c.principal.can("licensing.declare"), **contract_context(c, summary), **helpers(c))


@console_page("licensing.view")
async def contract(c: Console) -> Response:
    return await _contract_page(c)


@console_page("licensing.declare")
async def declare(c: Console) -> Response:
    """Declare (or correct) a month's operating profit; audited by the service, refused for a
    month already invoiced."""
    errors: dict[str, str] = {}
    period = profit = None
    try:
        period = forms.parse_month_text(c.form.get("period"))
    except forms.FieldError as exc:
        errors["period"] = c._(exc.message)
    try:
        profit = forms.parse_fen(c.form.get("profit_yuan"), negative=True)
        if profit is None:
            errors["profit_yuan"] = c._(forms.E_REQUIRED)
    except forms.FieldError as exc:
        errors["profit_yuan"] = c._(exc.message)
    if errors:
        return await _contract_page(c, values=c.form, errors=errors, status=422)
    try:
        async with c.transaction() as s:
            row = await declare_profit(s, c.actor(), period=period, profit_fen=profit, note=c.form.get("note", ""))
    except DomainError as exc:
        return await _contract_page(c, values=c.form, error=say(c, exc), status=exc.status)
    return c.redirect("licensing/contract", flash=c._("The operating profit of %(period)s is declared: %(amount)s yuan.",
                                                      period=row.period, amount=forms.yuan(row.profit_fen)))


@console_page("licensing.view")
async def invoices(c: Console) -> Response:
    async with c.transaction() as s:
        rows = [i for i in await list_invoices(s) if i.status in CITY_SEES]
    return c.render("licensing/invoices.html", tab="invoices", invoices=rows, **helpers(c))


@console_page("licensing.view")
async def invoice(c: Console) -> Response:
    invoice_id = int(c.request.path_params["invoice_id"])
    async with c.transaction() as s:
        view = await invoice_view(s, invoice_id, c.city, city_sees_only=True)
    base = c.url(f"licensing/invoices/{invoice_id}")
    return c.render("licensing/invoice.html", tab="invoices", view=view, vendor=False, base=base,
                    back=c.url("licensing/invoices"), pair_url=c.url("licensing/invoices/"), **helpers(c))


@console_page("licensing.view")
async def document(c: Console) -> Response:
    async with c.transaction() as s:
        return await invoice_document(c, s, int(c.request.path_params["invoice_id"]), city_sees_only=True)


@console_page("licensing.view")
async def pdf(c: Console) -> Response:
    async with c.transaction() as s:
        return await invoice_pdf_response(c, s, int(c.request.path_params["invoice_id"]), c.city, city_sees_only=True)


@console_page("licensing.view")
async def licence(c: Console) -> Response:
    status = await licence_status(c.rt, c.city)
    history = await licence_history(c.rt, c.city)
    return c.render("licensing/licence.html", tab="licence", licence=status, history=history,
                    month=month_of(c.city.tz, utcnow()), **helpers(c))


def routes() -> list:
    return [
        Route("/c/{city}/licensing/", overview, methods=["GET"]),
        Route("/c/{city}/licensing/contract", contract, methods=["GET"]),
        Route("/c/{city}/licensing/contract/profit", declare, methods=["POST"]),
        Route("/c/{city}/licensing/invoices", invoices, methods=["GET"]),
        Route("/c/{city}/licensing/invoices/{invoice_id:int}", invoice, methods=["GET"]),
        Route("/c/{city}/licensing/invoices/{invoice_id:int}/document", document, methods=["GET"]),
        Route("/c/{city}/licensing/invoices/{invoice_id:int}/pdf", pdf, methods=["GET"]),
        Route("/c/{city}/licensing/licence", licence, methods=["GET"]),
    ]
