"""A local carrier billing gateway that speaks ``docs/carrier-gateway.md`` as written, with its
own HMAC code (not the platform's), so a client that strays from the document fails here.

- Every request must carry ``X-Carrier-Key-Id`` (a known account), ``X-Carrier-Timestamp``
  (±300 s), ``X-Carrier-Nonce`` (16–64 of ``[A-Za-z0-9_-]``, never seen in the last 600 s) and
  ``X-Carrier-Signature`` = hex HMAC-SHA256 over ``METHOD\\nTARGET\\nTIMESTAMP\\nNONCE\\nsha256_hex(BODY)``;
  every answer, errors included, is signed the same way with a fresh timestamp and nonce.
- ``POST /v1/charges`` (idempotent on ``order_no``; ``order_conflict`` when the same number
  comes with another amount or phone; ``phone_not_served`` for another carrier's number) "sends
  the SMS" (kept in ``sms``); ``GET /v1/charges/{order_no}``; ``POST /v1/charges/{order_no}/close``;
  ``POST /v1/refunds`` (idempotent on ``refund_no``, partial, ``refund_exceeds`` past the charge;
  ``Account.pending_refunds`` answers ``pending`` that many times before ``succeeded``); a charge
  request for a declined, unfunded or expired order texts the member again;
  ``GET /v1/statements/{YYYY-MM}`` (the month's CSV statement).
- :meth:`FakeCarrier.reply` plays the member answering ``Y`` or ``N`` and returns the signed
  result callback for the test to deliver (once, twice, out of order, or altered);
  :meth:`FakeCarrier.callback` signs any callback body (with any secret: a forger's).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from guahao.tenants.clock import utcnow

BEIJING = timezone(timedelta(hours=8))
PREFIXES = {
    "cmcc": ("134", "135", "136", "137", "138", "139", "147", "150", "151", "152", "157", "158", "159", "178",
             "182", "183", "184", "187", "188", "198"),
    "unicom": ("130", "131", "132", "145", "155", "156", "166", "175", "176", "185", "186"),
    "telecom": ("133", "149", "153", "173", "177", "180", "181", "189", "199"),
}
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
REOPENABLE = ("declined", "insufficient_balance", "expired")


def hmac_hex(secret: str, method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    text = f"{method}\n{target}\n{timestamp}\n{nonce}\n{hashlib.sha256(body).hexdigest()}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def signed_headers(key_id: str, secret: str, method: str, target: str, body: bytes, *,
                   timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    ts = str(int(utcnow().timestamp()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    return {"X-Carrier-Key-Id": key_id, "X-Carrier-Timestamp": ts, "X-Carrier-Nonce": nonce,
            "X-Carrier-Signature": hmac_hex(secret, method, target, ts, nonce, body)}


@dataclass
class Account:
    key_id: str
    shared_secret: str
    carrier: str = "cmcc"
    short_of_balance: set[str] = field(default_factory=set)  # phones whose balance is too low
    fail: dict[str, int] = field(default_factory=dict)  # endpoint name → next calls answered 503
    pending_refunds: int = 0  # the next refund answers are "pending" (the money is on its way)
    forge_answers: bool = False  # answers signed with a wrong secret (a man in the middle)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)  # (method, target, body)
    orders: dict[str, dict] = field(default_factory=dict)
    refunds: dict[str, dict] = field(default_factory=dict)
    sms: list[dict] = field(default_factory=list)
    callbacks: list["Callback"] = field(default_factory=list)

    def settings(self, gateway_url: str) -> dict:
        return {"gateway_url": gateway_url, "key_id": self.key_id, "carrier": self.carrier}

    def secrets(self) -> dict:
        return {"shared_secret": self.shared_secret}


@dataclass
class Callback:
    """A signed result callback as the gateway sends it."""

    url: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def fields(self) -> dict:
        return json.loads(self.body)


class FakeCarrier:
    def __init__(self) -> None:
        self.url = ""
        self.accounts: dict[str, Account] = {}
        self.nonces: dict[str, datetime] = {}
        self._lock = threading.Lock()
        routes = [
            Route("/v1/charges", self._charge, methods=["POST"]),
            Route("/v1/charges/{order_no}", self._query, methods=["GET"]),
            Route("/v1/charges/{order_no}/close", self._close, methods=["POST"]),
            Route("/v1/refunds", self._refund, methods=["POST"]),
            Route("/v1/statements/{month}", self._statement, methods=["GET"]),
        ]
        # Served at the root and under /gh (a gateway_url with a path: the signed target has it).
        self.app = Starlette(routes=[Mount("/gh", routes=routes), *routes])

    @property
    def gateway_url(self) -> str:
        return f"{self.url}/gh"

    def add_account(self, carrier: str = "cmcc") -> Account:
        account = Account(key_id=f"gh-{secrets.token_hex(4)}", shared_secret=secrets.token_urlsafe(36), carrier=carrier)
        self.accounts[account.key_id] = account
        return account

    # --- the wire ---------------------------------------------------------------------------

    def _answer(self, request: Request, account: Account | None, status: int, body: dict | bytes,
                content_type: str = "application/json") -> Response:
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        headers: dict[str, str] = {}
        if account is not None:
            secret = "x" * 40 if account.forge_answers else account.shared_secret
            headers = signed_headers(account.key_id, secret, request.method, _target(request), raw)
        return Response(raw, status_code=status, headers=headers, media_type=content_type)

    def _error(self, request, account, status: int, code: str, message: str) -> Response:
        return self._answer(request, account, status, {"code": code, "message": message})

    async def _verified(self, request: Request, name: str) -> tuple[Account | None, dict | Response]:
        raw = await request.body()
        account = self.accounts.get(request.headers.get("x-carrier-key-id", ""))
        if account is None:
            return None, self._error(request, None, 401, "unknown_key", "unknown key id")
        ts, nonce = request.headers.get("x-carrier-timestamp", ""), request.headers.get("x-carrier-nonce", "")
        now = utcnow()
        if not ts.isdigit() or abs(now.timestamp() - int(ts)) > 300:
            return account, self._error(request, account, 401, "stale", "timestamp outside ±300 s")
        given = request.headers.get("x-carrier-signature", "")
        if not _NONCE.match(nonce) or not hmac.compare_digest(
                hmac_hex(account.shared_secret, request.method, _target(request), ts, nonce, raw), given):
            return account, self._error(request, account, 401, "invalid_signature", "signature does not verify")
        with self._lock:
            for old in [n for n, at in self.nonces.items() if (now - at).total_seconds() > 600]:
                del self.nonces[old]
            if nonce in self.nonces:
                return account, self._error(request, account, 409, "replayed_nonce", "nonce seen before")
            self.nonces[nonce] = now
        if account.fail.get(name):
            account.fail[name] -= 1
            return account, self._error(request, account, 503, "unavailable", "try again later")
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return account, self._error(request, account, 400, "invalid_request", "body is not JSON")
        if not isinstance(body, dict):
            return account, self._error(request, account, 400, "invalid_request", "body is not an object")
        account.requests.append((request.method, _target(request), body))
        return account, body

    # --- endpoints --------------------------------------------------------------------------

    async def _charge(self, request: Request) -> Response:
        account, body = await self._verified(request, "charge")
        if isinstance(body, Response):
            return body
        order_no, phone, amount = body.get("order_no"), body.get("phone"), body.get("amount_fen")
        if not (isinstance(order_no, str) and re.match(r"^[A-Za-z0-9_-]{1,64}$", order_no)
                and isinstance(phone, str) and re.match(r"^1\d{10}$", phone)
                and isinstance(amount, int) and not isinstance(amount, bool) and amount > 0
                and isinstance(body.get("notify_url"), str) and body["notify_url"].startswith("http")):
            return self._error(request, account, 400, "invalid_request", "order_no, phone, amount_fen, notify_url")
        if not phone.startswith(PREFIXES[account.carrier]):
            return self._error(request, account, 422, "phone_not_served", "not this carrier's number")
        order = account.orders.get(order_no)
        if order is not None:
            if (order["phone"], order["amount_fen"]) != (phone, amount):
                return self._error(request, account, 409, "order_conflict", "order_no used with other values")
            if order["status"] in REOPENABLE:  # the member may try again: a new confirmation SMS
                order["status"] = "awaiting_confirmation"
                order["expires_at"] = str(body.get("expires_at") or "")
                account.sms.append({"phone": phone, "order_no": order_no, "text": _sms(account, order)})
            return self._answer(request, account, 200, _public(order))
        order = {"order_no": order_no, "transaction_id": f"T{secrets.token_hex(8).upper()}", "phone": phone,
                 "amount_fen": amount, "description": str(body.get("description") or ""),
                 "notify_url": body["notify_url"], "expires_at": str(body.get("expires_at") or ""),
                 "status": "awaiting_confirmation", "refunded_fen": 0, "paid_at": None}
        account.orders[order_no] = order
        account.sms.append({"phone": phone, "order_no": order_no, "text": _sms(account, order)})
        return self._answer(request, account, 200, _public(order))

    async def _query(self, request: Request) -> Response:
        account, body = await self._verified(request, "query")
        if isinstance(body, Response):
            return body
        order = account.orders.get(request.path_params["order_no"])
        if order is None:
            return self._error(request, account, 404, "not_found", "no such order")
        return self._answer(request, account, 200, _public(order))

    async def _close(self, request: Request) -> Response:
        account, body = await self._verified(request, "close")
        if isinstance(body, Response):
            return body
        order = account.orders.get(request.path_params["order_no"])
        if order is None:
            return self._error(request, account, 404, "not_found", "no such order")
        if order["status"] == "awaiting_confirmation":
            order["status"] = "closed"
        elif order["status"] != "closed":
            return self._error(request, account, 409, "not_closable", f"order is {order['status']}")
        return self._answer(request, account, 200, _public(order))

    async def _refund(self, request: Request) -> Response:
        account, body = await self._verified(request, "refund")
        if isinstance(body, Response):
            return body
        refund_no, amount = body.get("refund_no"), body.get("amount_fen")
        order = account.orders.get(str(body.get("order_no")))
        if not (isinstance(refund_no, str) and 0 < len(refund_no) <= 64 and isinstance(amount, int) and amount > 0):
            return self._error(request, account, 400, "invalid_request", "refund_no, amount_fen")
        if order is None:
            return self._error(request, account, 404, "not_found", "no such order")
        if refund_no in account.refunds:
            return self._answer(request, account, 200, self._settle(account, account.refunds[refund_no]))
        if order["status"] != "succeeded":
            return self._error(request, account, 409, "not_charged", "the order was not charged")
        if order["refunded_fen"] + amount > order["amount_fen"]:
            return self._error(request, account, 409, "refund_exceeds", "more than was charged")
        order["refunded_fen"] += amount
        refund = {"refund_no": refund_no, "order_no": order["order_no"], "amount_fen": amount, "status": "pending",
                  "refunded_fen": order["refunded_fen"], "time": utcnow().astimezone(BEIJING).isoformat(timespec="seconds")}
        account.refunds[refund_no] = refund
        return self._answer(request, account, 200, self._settle(account, refund))

    def _settle(self, account: Account, refund: dict) -> dict:
        if refund["status"] == "pending":
            if account.pending_refunds > 0:
                account.pending_refunds -= 1
            else:
                refund["status"] = "succeeded"
        return refund

    async def _statement(self, request: Request) -> Response:
        account, body = await self._verified(request, "statement")
        if isinstance(body, Response):
            return body
        month = request.path_params["month"]
        if not re.match(r"^\d{4}-\d{2}$", month):
            return self._error(request, account, 400, "invalid_request", "month is YYYY-MM")
        if month > utcnow().astimezone(BEIJING).strftime("%Y-%m"):
            return self._error(request, account, 404, "statement_not_ready", "the month has not begun")
        return self._answer(request, account, 200, self.statement_file(account, month), "text/csv; charset=utf-8")

    def statement_file(self, account: Account, month: str) -> bytes:
        rows = []
        for o in account.orders.values():
            if o["paid_at"] and o["paid_at"].startswith(month):
                rows.append(["charge", o["order_no"], o["transaction_id"], "", _masked(o["phone"]), o["amount_fen"],
                             "succeeded", o["paid_at"]])
        for r in account.refunds.values():
            if r["time"].startswith(month):
                o = account.orders[r["order_no"]]
                rows.append(["refund", r["order_no"], o["transaction_id"], r["refund_no"], _masked(o["phone"]),
                             r["amount_fen"], r["status"], r["time"]])
        out = io.StringIO()
        out.write(f"# carrier statement {account.carrier} {account.key_id} {month}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["type", "order_no", "transaction_id", "refund_no", "phone", "amount_fen", "status", "time"])
        writer.writerows(rows)
        charges = [r for r in rows if r[0] == "charge"]
        refunds = [r for r in rows if r[0] == "refund"]
        out.write(f"# totals charges={len(charges)} charge_fen={sum(r[5] for r in charges)} "
                  f"refunds={len(refunds)} refund_fen={sum(r[5] for r in refunds)}\n")
        return out.getvalue().encode()

    # --- the member and the callbacks -------------------------------------------------------

    def reply(self, account: Account, order_no: str, answer: str = "Y") -> Callback | None:
        """The member answers the SMS; returns the signed result callback (``None`` when the
        order is closed or already settled: the carrier tells the member by SMS and charges nothing)."""
        order = account.orders[order_no]
        if order["status"] != "awaiting_confirmation":
            account.sms.append({"phone": order["phone"], "order_no": order_no, "text": "该订单已关闭或已处理，未扣费。"})
            return None
        if answer.strip().upper() != "Y":
            order["status"] = "declined"
        elif order["phone"] in account.short_of_balance:
            order["status"] = "insufficient_balance"
        else:
            order["status"] = "succeeded"
            order["paid_at"] = utcnow().astimezone(BEIJING).isoformat(timespec="seconds")
        return self.result(account, order)

    def result(self, account: Account, order: dict, **changes) -> Callback:
        body = {"type": "charge.result", "notify_id": f"N{secrets.token_hex(10)}", "order_no": order["order_no"],
                "transaction_id": order["transaction_id"], "status": order["status"],
                "amount_fen": order["amount_fen"],
                "time": utcnow().astimezone(BEIJING).isoformat(timespec="seconds"), **changes}
        callback = self.callback(account, order["notify_url"], body)
        account.callbacks.append(callback)
        return callback

    def callback(self, account: Account, url: str, body: dict | bytes, *, secret: str | None = None,
                 timestamp: int | None = None, nonce: str | None = None) -> Callback:
        """Sign ``body`` as a callback to ``url`` (with ``secret``: a forger's)."""
        raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        headers = signed_headers(account.key_id, secret or account.shared_secret, "POST", urlsplit(url).path, raw,
                                 timestamp=timestamp, nonce=nonce)
        return Callback(url=url, headers={**headers, "Content-Type": "application/json"}, body=raw)


def _sms(account: Account, order: dict) -> str:
    return f"【{account.carrier}】您将支付{order['amount_fen'] / 100:.2f}元：{order['description']}。回复Y确认，回复N取消。"


def _target(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


def _public(order: dict) -> dict:
    return {"order_no": order["order_no"], "transaction_id": order["transaction_id"], "status": order["status"],
            "amount_fen": order["amount_fen"], "refunded_fen": order["refunded_fen"], "paid_at": order["paid_at"],
            "phone": _masked(order["phone"])}
