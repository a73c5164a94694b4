"""Stripe Invoicing for the local Stripe API of :mod:`tests.fakes.stripe`: customers (create,
retrieve, search by metadata), invoices (create, retrieve, search by metadata, finalize, void)
and invoice items, with the same Bearer keys, form encoding, ``Idempotency-Key`` replay and
Stripe-shaped errors, strictly enough for the real ``stripe`` library.

Rules kept from Stripe's API: an invoice item goes on a *draft* invoice of the same customer
and currency (amounts may be negative: a credit); ``collection_method=send_invoice`` needs
``days_until_due``; ``finalize`` turns a draft ``open`` and numbers it; ``total`` is the sum of
the items. Searches understand ``metadata['key']:'value'``.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .stripe import Account, FakeStripe, StripeFailure

_QUERY = re.compile(r"^metadata\['([^']+)'\]:'([^']*)'$")


@dataclass
class Books:
    """One account's customers, invoices and invoice items."""

    customers: dict = field(default_factory=dict)
    invoices: dict = field(default_factory=dict)
    items: dict = field(default_factory=dict)
    numbered: int = 0


def _missing(kind: str, oid: str, param: str = "id") -> StripeFailure:
    return StripeFailure(404, "invalid_request_error", f"No such {kind}: '{oid}'", code="resource_missing", param=param)


def _search(objects, query: str, url: str) -> dict:
    m = _QUERY.match(query.strip())
    if not m:
        raise StripeFailure(400, "invalid_request_error", f"This fake understands metadata['k']:'v' only, not {query!r}",
                            param="query")
    key, value = m.groups()
    data = [o for o in objects if (o.get("metadata") or {}).get(key) == value]
    return {"object": "search_result", "url": url, "has_more": False, "data": data, "next_page": None}


class FakeStripeInvoicing(FakeStripe):
    """:class:`FakeStripe` with Stripe Invoicing; ``books(account)`` shows what was made."""

    def __init__(self):
        super().__init__()
        self._books: dict[str, Books] = {}
        self.app.router.routes.extend([
            Route("/v1/customers", self._post(self._create_customer), methods=["POST"]),
            Route("/v1/customers/search", self._get(self._search_customers), methods=["GET"]),
            Route("/v1/customers/{oid}", self._get(self._get_customer), methods=["GET"]),
            Route("/v1/invoices", self._post(self._create_invoice), methods=["POST"]),
            Route("/v1/invoices/search", self._get(self._search_invoices), methods=["GET"]),
            Route("/v1/invoices/{oid}", self._get(self._get_invoice), methods=["GET"]),
            Route("/v1/invoices/{oid}/finalize", self._post(self._finalize), methods=["POST"]),
            Route("/v1/invoices/{oid}/void", self._post(self._void), methods=["POST"]),
            Route("/v1/invoiceitems", self._post(self._create_item), methods=["POST"]),
        ])

    def books(self, account: Account) -> Books:
        return self._books.setdefault(account.secret_key, Books())

    def _post(self, action):
        async def endpoint(request: Request) -> Response:
            return await self._call(request, action)

        return endpoint

    _get = _post

    # --- customers --------------------------------------------------------------------------

    def _create_customer(self, account: Account, p: dict, request: Request) -> dict:
        customer = {
            "id": f"cus_{secrets.token_hex(7)}", "object": "customer", "name": p.get("name"), "email": p.get("email"),
            "description": p.get("description"), "metadata": p.get("metadata") or {}, "created": int(time.time()),
            "livemode": False,
        }
        self.books(account).customers[customer["id"]] = customer
        return customer

    def _search_customers(self, account: Account, p: dict, request: Request) -> dict:
        return _search(self.books(account).customers.values(), request.query_params.get("query", ""), "/v1/customers/search")

    def _get_customer(self, account: Account, p: dict, request: Request) -> dict:
        oid = request.path_params["oid"]
        customer = self.books(account).customers.get(oid)
        if customer is None:
            raise _missing("customer", oid)
        return customer

    # --- invoices ---------------------------------------------------------------------------

    def _invoice(self, account: Account, oid: str) -> dict:
        invoice = self.books(account).invoices.get(oid)
        if invoice is None:
            raise _missing("invoice", oid)
        return invoice

    def _create_invoice(self, account: Account, p: dict, request: Request) -> dict:
        books = self.books(account)
        customer = p.get("customer")
        if customer not in books.customers:
            raise _missing("customer", str(customer), "customer")
        method = p.get("collection_method", "charge_automatically")
        if method not in ("charge_automatically", "send_invoice"):
            raise StripeFailure(400, "invalid_request_error", "Invalid collection_method", param="collection_method")
        if method == "send_invoice" and not str(p.get("days_until_due", "")).isdigit():
            raise StripeFailure(400, "invalid_request_error",
                                "Missing required param: days_until_due (collection_method=send_invoice)",
                                param="days_until_due")
        invoice = {
            "id": f"in_{secrets.token_hex(12)}", "object": "invoice", "customer": customer, "status": "draft",
            "number": None, "currency": (p.get("currency") or "cny").lower(), "collection_method": method,
            "days_until_due": int(p["days_until_due"]) if p.get("days_until_due") else None,
            "auto_advance": p.get("auto_advance") == "true", "description": p.get("description"),
            "metadata": p.get("metadata") or {}, "total": 0, "amount_due": 0, "created": int(time.time()),
            "lines": {"object": "list", "data": [], "has_more": False, "url": ""}, "livemode": False,
        }
        invoice["lines"]["url"] = f"/v1/invoices/{invoice['id']}/lines"
        books.invoices[invoice["id"]] = invoice
        return invoice

    def _search_invoices(self, account: Account, p: dict, request: Request) -> dict:
        return _search(self.books(account).invoices.values(), request.query_params.get("query", ""), "/v1/invoices/search")

    def _get_invoice(self, account: Account, p: dict, request: Request) -> dict:
        return self._invoice(account, request.path_params["oid"])

    def _finalize(self, account: Account, p: dict, request: Request) -> dict:
        invoice = self._invoice(account, request.path_params["oid"])
        if invoice["status"] != "draft":
            raise StripeFailure(400, "invalid_request_error",
                                "This invoice is already finalized, you can't re-finalize a non-draft invoice.")
        books = self.books(account)
        books.numbered += 1
        invoice.update(status="open", number=f"FAKE-{books.numbered:04d}", amount_due=max(0, invoice["total"]),
                       status_transitions={"finalized_at": int(time.time())})
        return invoice

    def _void(self, account: Account, p: dict, request: Request) -> dict:
        invoice = self._invoice(account, request.path_params["oid"])
        if invoice["status"] != "open":
            raise StripeFailure(400, "invalid_request_error", "You can only void an open invoice.")
        invoice.update(status="void", amount_due=0)
        return invoice

    # --- invoice items ----------------------------------------------------------------------

    def _create_item(self, account: Account, p: dict, request: Request) -> dict:
        books = self.books(account)
        customer = p.get("customer")
        if customer not in books.customers:
            raise _missing("customer", str(customer), "customer")
        if not re.fullmatch(r"-?\d+", str(p.get("amount", ""))):
            raise StripeFailure(400, "invalid_request_error", "Invalid integer: amount", param="amount")
        currency = (p.get("currency") or "").lower()
        invoice = self._invoice(account, p["invoice"]) if p.get("invoice") else None
        if invoice is not None:
            if invoice["status"] != "draft":
                raise StripeFailure(400, "invalid_request_error", "You can only add invoice items to draft invoices.",
                                    param="invoice")
            if invoice["customer"] != customer or invoice["currency"] != currency:
                raise StripeFailure(400, "invalid_request_error",
                                    "The invoice item must have the invoice's customer and currency.", param="invoice")
        item = {
            "id": f"ii_{secrets.token_hex(12)}", "object": "invoiceitem", "customer": customer, "amount": int(p["amount"]),
            "currency": currency, "description": p.get("description"), "metadata": p.get("metadata") or {},
            "invoice": invoice["id"] if invoice else None, "livemode": False,
        }
        books.items[item["id"]] = item
        if invoice is not None:
            invoice["lines"]["data"].append({"id": f"il_{item['id'][3:]}", "object": "line_item", "amount": item["amount"],
                                             "currency": currency, "description": item["description"],
                                             "metadata": item["metadata"]})
            invoice["total"] += item["amount"]
            invoice["amount_due"] = max(0, invoice["total"])
        return item
