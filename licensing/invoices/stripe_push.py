"""Pushing an issued invoice to Stripe Invoicing, for the vendor's own collection.

The vendor's Stripe account (its secret key; ``api_base`` for a test double) is the vendor's,
not a city's: the caller builds the client (:func:`stripe_client`) and passes it in. One
invoice becomes, at Stripe: the city's customer (found by ``metadata['guahao_city']``, else
created), a draft invoice (``send_invoice``, due in ``days_until_due`` days) with one item per
line and one for VAT, then finalized. Stripe's total must equal ours to the fen, or nothing is
finalized there. Every request carries an idempotency key made from the invoice number, so a
retried push does not create anything twice (within Stripe's 24 hours of key memory).

The network calls run outside any database transaction; the Stripe invoice id is recorded
afterwards (the one thing an issued invoice still lets change).
"""

from __future__ import annotations

from dataclasses import dataclass

import stripe

from guahao.core import audit
from guahao.plugin_api import Conflict, city_session

from ..contracts.money import yuan
from .models import ISSUED
from .queries import get_invoice, invoice_lines

DAYS_UNTIL_DUE = 30


def stripe_client(secret_key: str, api_base: str = "") -> stripe.StripeClient:
    """A client for the vendor's Stripe account."""
    return stripe.StripeClient(
        secret_key, base_addresses={"api": (api_base or stripe.DEFAULT_API_BASE).rstrip("/")},
        max_network_retries=2, http_client=stripe.HTTPXClient(timeout=20),
    )


@dataclass(frozen=True)
class _Item:
    amount: int
    description: str
    key: str


def _items(invoice, lines) -> list[_Item]:
    out = [_Item(x.amount_fen, f"{x.description} ({x.span_start} – {x.span_end})"[:500], f"line-{x.position}")
           for x in lines]
    if invoice.vat_fen:
        out.append(_Item(invoice.vat_fen, f"增值税 VAT {invoice.vat_percent}%", "vat"))
    return out


class StripePushFailed(Conflict):
    """Stripe refused or answered something that does not match the invoice."""

    def __init__(self, message: str):
        super().__init__("stripe_push_failed", f"推送到 Stripe 失败 / Stripe push failed: {message}")


async def _customer(client: stripe.StripeClient, city, buyer: dict, key: str) -> str:
    found = await client.v1.customers.search_async({"query": f"metadata['guahao_city']:'{city.slug}'"})
    if found.data:
        return found.data[0].id
    params = {"name": (buyer.get("name") or city.name)[:250], "metadata": {"guahao_city": city.slug},
              "description": f"{city.name} ({city.slug})"}
    if buyer.get("email"):
        params["email"] = buyer["email"]
    return (await client.v1.customers.create_async(params, {"idempotency_key": f"{key}-customer"})).id


async def push_to_stripe(rt, city, invoice_id: int, actor: audit.Actor, *, client: stripe.StripeClient,
                         currency: str = "cny"):
    """Create and finalize the Stripe invoice of an issued invoice of ``city``; return ours
    with ``stripe_invoice_id`` and ``stripe_status`` set.

    Raises:
        NotFound. Conflict: ``invoice_not_issued``, ``invoice_already_pushed``,
        ``stripe_push_failed`` (Stripe refused, or its total differs from ours).
    """
    async with city_session(rt, city) as s:
        invoice = await get_invoice(s, invoice_id)
        lines = await invoice_lines(s, invoice_id)
    if invoice.kind != "invoice" or invoice.status not in ISSUED:
        raise Conflict("invoice_not_issued",
                       f"只有已开具的账单可以推送 / only an issued invoice can be pushed ({invoice.status})")
    if invoice.stripe_invoice_id:
        raise Conflict("invoice_already_pushed",
                       f"账单已推送到 Stripe（{invoice.stripe_invoice_id}） / already pushed as {invoice.stripe_invoice_id}")
    key = f"guahao-{invoice.number}"
    try:
        customer = await _customer(client, city, invoice.buyer, key)
        found = await client.v1.invoices.search_async({"query": f"metadata['guahao_invoice']:'{invoice.number}'"})
        remote = found.data[0] if found.data else None
        if remote is None:
            remote = await client.v1.invoices.create_async({
                "customer": customer, "currency": currency, "collection_method": "send_invoice",
                "days_until_due": DAYS_UNTIL_DUE, "auto_advance": False,
                "description": f"{invoice.number} {city.name} {invoice.period}",
                "metadata": {"guahao_invoice": invoice.number, "guahao_city": city.slug, "guahao_period": invoice.period},
            }, {"idempotency_key": f"{key}-invoice"})
        if remote.status == "draft":
            for item in _items(invoice, lines):
                await client.v1.invoice_items.create_async({
                    "customer": customer, "invoice": remote.id, "amount": item.amount, "currency": currency,
                    "description": item.description, "metadata": {"guahao_invoice": invoice.number, "guahao_line": item.key},
                }, {"idempotency_key": f"{key}-{item.key}"})
            remote = await client.v1.invoices.retrieve_async(remote.id)
            if remote.total != invoice.total_fen:
                raise StripePushFailed(f"Stripe's total {yuan(remote.total)} differs from {yuan(invoice.total_fen)}")
            remote = await client.v1.invoices.finalize_invoice_async(remote.id, {}, {"idempotency_key": f"{key}-finalize"})
    except stripe.StripeError as exc:
        raise StripePushFailed(str(getattr(exc, "user_message", None) or exc)[:300]) from None
    async with city_session(rt, city) as s:
        invoice = await get_invoice(s, invoice_id)
        invoice.stripe_invoice_id, invoice.stripe_status = remote.id, str(remote.status or "")[:20]
        await s.flush()
        audit.record(s, actor, "invoice.stripe_push", target_type="invoice", target_id=invoice.id,
                     summary=f"{invoice.number} → Stripe {remote.id} ({remote.status})",
                     after={"stripe_invoice_id": remote.id, "stripe_status": remote.status})
    return invoice
