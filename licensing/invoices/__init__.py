"""Invoices (R14.4): the monthly invoice run, gap-free numbering, states, documents, Stripe.

The service functions the console and the commands call:

- run: :func:`.run.run_invoices` ``(rt, period, *, city=None, actor) -> list[RunOutcome]``;
- read: :func:`.queries.list_invoices` and :func:`.queries.get_invoice`, :func:`.queries.invoice_lines`
  (the current city, in its ``city_session``), :func:`.queries.list_all_invoices` ``(rt, …)``
  (every city, for the vendor), :func:`.queries.city_of_invoice` ``(rt, id)``,
  :func:`.queries.invoice_as_dict`;
- states: :func:`.states.finalize_invoice`, :func:`.states.mark_paid`, :func:`.states.void_invoice`
  ``(s, invoice_id, actor, …)``;
- documents: :func:`.documents.invoice_html` and :func:`.documents.invoice_pdf` ``(s, invoice_id)``;
- Stripe: :func:`.stripe_push.push_to_stripe` ``(rt, city, invoice_id, actor, *, client)``;
- the seller: :func:`.seller.get_seller`, :func:`.seller.set_seller`.
"""

from __future__ import annotations

from .models import Invoice, InvoiceLine, InvoiceNumberSeries, Seller

__all__ = ["Invoice", "InvoiceLine", "InvoiceNumberSeries", "Seller"]
