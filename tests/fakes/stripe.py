"""A local Stripe API that speaks the documented protocol strictly enough for the real
``stripe`` library: Bearer secret keys, form-encoded bodies with nested keys
(``metadata[k]``, ``line_items[0][price_data][currency]``), ``Idempotency-Key`` replay (and
``idempotency_error`` on reuse with other parameters), Stripe-shaped JSON errors, Checkout
Sessions (create, retrieve, expire) and refunds.

Its hosted checkout page (``/pay/{session id}``) plays the member: posting ``pay`` marks the
session paid, signs a ``checkout.session.completed`` event the way Stripe does
(``Stripe-Signature: t=…,v1=HMAC-SHA256(whsec, "t.payload")``) and redirects to the
session's ``success_url``. Events go to the account's ``webhook_url`` over HTTP when one is
set, and are always kept in ``events`` (with their signed header) for tests to deliver.

Refunds follow Stripe's refund lifecycle (API 2024-10-28 and later): created ``succeeded`` or,
with ``Account.refund_status = "pending"``, pending until :meth:`FakeStripe.settle_refund`
moves them to ``succeeded``/``failed``/``canceled``. Creating one sends ``refund.created`` and
``charge.refunded`` (the payment's charge, carrying the PaymentIntent's metadata as Stripe
copies it); a change sends ``refund.updated`` (and ``refund.failed`` for a failure).
:meth:`FakeStripe.refund_in_dashboard` refunds as a person in Stripe's Dashboard would.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

MIN_EXPIRY, MAX_EXPIRY = 30 * 60, 24 * 3600
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def sign(payload: str, secret: str, t: int | None = None) -> str:
    """A ``Stripe-Signature`` header for ``payload`` (Stripe's scheme ``v1``)."""
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def parse_form(body: str) -> dict:
    """Stripe's form encoding back into nested dicts and lists."""
    root: dict = {}
    for name, value in parse_qsl(body, keep_blank_values=True):
        m = _KEY.match(name)
        if not m:
            raise ValueError(name)
        path = [m.group(1), *re.findall(r"\[([^\[\]]*)\]", m.group(2))]
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return _lists(root)


def _lists(node):
    if isinstance(node, dict):
        node = {k: _lists(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


class StripeFailure(Exception):
    def __init__(self, status: int, type_: str, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.type, self.message, self.code, self.param = status, type_, message, code, param

    def response(self) -> JSONResponse:
        error = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        return JSONResponse({"error": error}, status_code=self.status)


@dataclass
class Account:
    """One Stripe account: its secret key, webhook endpoint and what happened on it."""

    secret_key: str
    webhook_secret: str
    webhook_url: str = ""
    sessions: dict = field(default_factory=dict)
    refunds: dict = field(default_factory=dict)
    events: list = field(default_factory=list)  # (event dict, payload, signature header)
    deliveries: list = field(default_factory=list)  # (status code or error text) per delivery
    idempotency: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)  # (method, path, idempotency key, params)
    fail_refunds: int = 0  # answer the next n refund requests with a 500
    refund_status: str = "succeeded"  # what a new refund starts as ("pending": wallets, bank debits)


class FakeStripe:
    """State per account (``add_account()`` → its keys); ``url`` is set once served."""

    def __init__(self):
        self.url = ""
        self.accounts: dict[str, Account] = {}
        self._lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/v1/checkout/sessions", self.create_session, methods=["POST"]),
            Route("/v1/checkout/sessions/{sid}", self.get_session, methods=["GET"]),
            Route("/v1/checkout/sessions/{sid}/expire", self.expire_session, methods=["POST"]),
            Route("/v1/refunds", self.create_refund, methods=["POST"]),
            Route("/v1/refunds", self.list_refunds, methods=["GET"]),
            Route("/pay/{sid}", self.checkout_page, methods=["GET", "POST"]),
        ])

    def add_account(self, webhook_url: str = "") -> Account:
        account = Account(f"sk_test_{secrets.token_hex(12)}", f"whsec_{secrets.token_hex(16)}", webhook_url)
        self.accounts[account.secret_key] = account
        return account

    # --- plumbing ---------------------------------------------------------------------------

    def _account(self, request: Request) -> Account:
        auth = request.headers.get("authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        account = self.accounts.get(key)
        if account is None:
            raise StripeFailure(401, "invalid_request_error", f"Invalid API Key provided: {key[:8]}***")
        return account

    async def _call(self, request: Request, action) -> Response:
        """Authenticate, parse the form, apply idempotency, run ``action(account, params)``."""
        try:
            account = self._account(request)
            params: dict = {}
            if request.method == "POST":
                ctype = request.headers.get("content-type", "")
                raw = (await request.body()).decode()
                if raw and not ctype.startswith("application/x-www-form-urlencoded"):
                    raise StripeFailure(400, "invalid_request_error", "Invalid request: use form encoding")
                params = parse_form(raw)
            key = request.headers.get("idempotency-key")
            account.requests.append((request.method, request.url.path, key, params))
            if request.method == "POST" and key:
                if len(key) > 255:
                    raise StripeFailure(400, "invalid_request_error", "Idempotency-Key is too long", param="idempotency_key")
                fingerprint = (request.url.path, json.dumps(params, sort_keys=True))
                with self._lock:
                    seen = account.idempotency.get(key)
                if seen is not None:
                    if seen[0] != fingerprint:
                        raise StripeFailure(
                            400, "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                        )
                    return JSONResponse(seen[2], status_code=seen[1], headers={"Idempotent-Replayed": "true"})
            try:
                status, body = 200, action(account, params, request)
            except StripeFailure as failure:
                status, body = failure.status, json.loads(failure.response().body)
            if request.method == "POST" and key:
                with self._lock:
                    account.idempotency.setdefault(key, (fingerprint, status, body))
            return JSONResponse(body, status_code=status)
        except StripeFailure as failure:
            return failure.response()

    # --- checkout sessions ------------------------------------------------------------------

    async def create_session(self, request: Request) -> Response:
        return await self._call(request, self._create_session)

    def _create_session(self, account: Account, p: dict, request: Request) -> dict:
        if p.get("mode") != "payment":
            raise StripeFailure(400, "invalid_request_error", "This fake supports mode=payment", param="mode")
        items = p.get("line_items")
        if not isinstance(items, list) or not items:
            raise StripeFailure(400, "invalid_request_error", "line_items is required", param="line_items")
        total, currency = 0, None
        for i, item in enumerate(items):
            price = item.get("price_data") or {}
            product = price.get("product_data") or {}
            if not price.get("currency") or price["currency"] != price["currency"].lower():
                raise StripeFailure(
                    400, "invalid_request_error", "Invalid currency", param=f"line_items[{i}][price_data][currency]"
                )
            if not str(price.get("unit_amount", "")).isdigit() or not product.get("name"):
                raise StripeFailure(400, "invalid_request_error", "Missing unit_amount or product name",
                                    param=f"line_items[{i}][price_data]")
            if currency not in (None, price["currency"]):
                raise StripeFailure(400, "invalid_request_error", "All line items must share one currency")
            currency = price["currency"]
            total += int(price["unit_amount"]) * int(item.get("quantity", 1))
        if not p.get("success_url"):
            raise StripeFailure(400, "invalid_request_error", "success_url is required", param="success_url")
        now = int(time.time())
        expires_at = int(p.get("expires_at") or now + MAX_EXPIRY)
        if not now + MIN_EXPIRY <= expires_at <= now + MAX_EXPIRY:
            raise StripeFailure(
                400, "invalid_request_error",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
                param="expires_at",
            )
        sid = f"cs_test_{secrets.token_hex(16)}"
        session = {
            "id": sid, "object": "checkout.session", "mode": "payment", "status": "open", "payment_status": "unpaid",
            "amount_subtotal": total, "amount_total": total, "currency": currency,
            "client_reference_id": p.get("client_reference_id"), "metadata": p.get("metadata") or {},
            "success_url": p["success_url"], "cancel_url": p.get("cancel_url"), "expires_at": expires_at,
            "created": now, "livemode": False, "payment_intent": None,
            "url": f"{self.url}/pay/{sid}", "line_items_names": [i["price_data"]["product_data"]["name"] for i in items],
            "_account": account.secret_key, "_intent_metadata": (p.get("payment_intent_data") or {}).get("metadata") or {},
        }
        with self._lock:
            account.sessions[sid] = session
        return _public(session)

    async def get_session(self, request: Request) -> Response:
        return await self._call(request, lambda a, p, r: _public(self._session(a, r.path_params["sid"])))

    def _session(self, account: Account, sid: str) -> dict:
        session = account.sessions.get(sid)
        if session is None:
            raise StripeFailure(404, "invalid_request_error", f"No such checkout.session: '{sid}'",
                                code="resource_missing", param="id")
        if session["status"] == "open" and session["expires_at"] <= time.time():
            session["status"] = "expired"
        return session

    async def expire_session(self, request: Request) -> Response:
        def action(account, p, r):
            session = self._session(account, r.path_params["sid"])
            if session["status"] != "open":
                raise StripeFailure(400, "invalid_request_error",
                                    "Only Checkout Sessions with a status in [\"open\"] can be expired.")
            session["status"] = "expired"
            self._emit(account, "checkout.session.expired", _public(session))
            return _public(session)

        return await self._call(request, action)

    # --- refunds ----------------------------------------------------------------------------

    async def create_refund(self, request: Request) -> Response:
        return await self._call(request, self._create_refund)

    async def list_refunds(self, request: Request) -> Response:
        def action(account, p, r):
            intent = r.query_params.get("payment_intent")
            data = [x for x in account.refunds.values() if intent is None or x["payment_intent"] == intent]
            limit = int(r.query_params.get("limit", 10))
            return {"object": "list", "url": "/v1/refunds", "has_more": len(data) > limit, "data": data[:limit]}

        return await self._call(request, action)

    def _create_refund(self, account: Account, p: dict, request: Request) -> dict:
        if account.fail_refunds > 0:
            account.fail_refunds -= 1
            raise StripeFailure(500, "api_error", "An unknown error occurred")
        intent = p.get("payment_intent")
        session = next((s for s in account.sessions.values() if s["payment_intent"] and s["payment_intent"] == intent), None)
        if session is None:
            raise StripeFailure(404, "invalid_request_error", f"No such payment_intent: '{intent}'",
                                code="resource_missing", param="payment_intent")
        refunded = sum(r["amount"] for r in account.refunds.values() if r["payment_intent"] == intent)
        amount = int(p.get("amount") or session["amount_total"] - refunded)
        if refunded + amount > session["amount_total"]:
            raise StripeFailure(400, "invalid_request_error", "Refund amount is greater than the unrefunded amount.",
                                code="charge_already_refunded", param="amount")
        if p.get("reason") not in (None, "duplicate", "fraudulent", "requested_by_customer"):
            raise StripeFailure(400, "invalid_request_error", "Invalid reason", param="reason")
        refund = {
            "id": f"re_{secrets.token_hex(12)}", "object": "refund", "amount": amount, "currency": session["currency"],
            "payment_intent": intent, "charge": session["_charge"], "status": account.refund_status,
            "reason": p.get("reason"), "failure_reason": None, "metadata": p.get("metadata") or {},
            "created": int(time.time()),
        }
        with self._lock:
            account.refunds[refund["id"]] = refund
        self._emit(account, "refund.created", dict(refund))
        self._emit(account, "charge.refunded", self._charge(account, session))
        return refund

    def _charge(self, account: Account, session: dict) -> dict:
        """The charge of a paid session as Stripe shows it (refunds not expanded)."""
        refunded = sum(r["amount"] for r in account.refunds.values()
                       if r["payment_intent"] == session["payment_intent"] and r["status"] not in ("failed", "canceled"))
        return {
            "id": session["_charge"], "object": "charge", "amount": session["amount_total"],
            "amount_captured": session["amount_total"], "amount_refunded": refunded,
            "refunded": refunded >= session["amount_total"], "currency": session["currency"], "paid": True,
            "status": "succeeded", "payment_intent": session["payment_intent"],
            "metadata": dict(session["_intent_metadata"]), "livemode": False,
        }

    def settle_refund(self, refund_id: str, status: str, failure_reason: str | None = None) -> dict:
        """Stripe finishing a pending refund (or failing one it reported succeeded)."""
        if status not in ("succeeded", "failed", "canceled"):
            raise ValueError(status)
        account = next(a for a in self.accounts.values() if refund_id in a.refunds)
        refund = account.refunds[refund_id]
        refund.update(status=status, failure_reason=failure_reason if status == "failed" else None)
        self._emit(account, "refund.updated", dict(refund))
        if status == "failed":
            self._emit(account, "refund.failed", dict(refund))
        return refund

    def refund_in_dashboard(self, sid: str) -> dict:
        """Refund a paid session in full the way a person does in Stripe's Dashboard (no metadata)."""
        account, session = self.find_session(sid)
        return self._create_refund(account, {"payment_intent": session["payment_intent"]}, None)

    # --- the hosted page and events ---------------------------------------------------------

    def find_session(self, sid: str) -> tuple[Account, dict]:
        for account in self.accounts.values():
            if sid in account.sessions:
                return account, self._session(account, sid)
        raise KeyError(sid)

    async def checkout_page(self, request: Request) -> Response:
        try:
            account, session = self.find_session(request.path_params["sid"])
        except KeyError:
            return HTMLResponse("<h1>No such checkout</h1>", status_code=404)
        if session["status"] != "open":
            return HTMLResponse(f"<h1 id='state'>This checkout is {session['status']}</h1>", status_code=410)
        if request.method == "GET":
            names = "".join(f"<li>{html.escape(n)}</li>" for n in session["line_items_names"])
            amount = f"{session['amount_total'] / 100:.2f} {session['currency'].upper()}"
            return HTMLResponse(
                f"<!doctype html><title>Stripe Checkout (fake)</title><h1>Pay {amount}</h1><ul>{names}</ul>"
                f"<form method='post'><button id='pay' name='action' value='pay'>Pay</button></form>"
                f"<p><a id='back' href='{html.escape(session['cancel_url'] or '')}'>Back</a></p>"
            )
        return RedirectResponse(self.pay(session["id"]), status_code=303)

    def pay(self, sid: str) -> str:
        """Pay an open session as the member would; returns the ``success_url`` to go to."""
        account, session = self.find_session(sid)
        if session["status"] != "open":
            raise ValueError(f"session {sid} is {session['status']}")
        session.update(status="complete", payment_status="paid", payment_intent=f"pi_{secrets.token_hex(12)}",
                       _charge=f"ch_{secrets.token_hex(12)}")
        self._emit(account, "checkout.session.completed", _public(session))
        return session["success_url"].replace("{CHECKOUT_SESSION_ID}", sid)

    def _emit(self, account: Account, kind: str, obj: dict) -> None:
        event = {
            "id": f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": "2026-10-28.endive",
            "created": int(time.time()), "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": kind,
        }
        payload = json.dumps(event)
        header = sign(payload, account.webhook_secret)
        account.events.append((event, payload, header))
        if account.webhook_url:
            try:
                r = httpx.post(account.webhook_url, content=payload.encode(), timeout=10,
                               headers={"Stripe-Signature": header, "Content-Type": "application/json; charset=utf-8"})
                account.deliveries.append(r.status_code)
            except httpx.HTTPError as exc:
                account.deliveries.append(str(exc))


def _public(session: dict) -> dict:
    return {k: v for k, v in session.items() if not k.startswith("_") and k != "line_items_names"}
