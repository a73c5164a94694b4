"""The three uplink formats, each authenticated before anything is read from it.

- ``aliyun`` — Alibaba Cloud SMS "SmsUp" HTTP batch push: a JSON array of
  ``{phone_number, content, send_time ("2017-09-01 00:00:00", Beijing time), dest_code,
  sequence_id}``; acknowledged with ``{"code": 0, "msg": "接收成功"}`` (anything but HTTP 200
  is pushed again after 1, 5 and 10 minutes). The gateway does not sign its pushes: the
  callback URL configured in the console carries a secret ``token`` query parameter, compared
  in constant time, over HTTPS. ``sequence_id`` is the message id.
- ``tencent`` — Tencent Cloud SMS reply callback: one JSON object ``{extend, mobile,
  nationcode, sign, text, time (Unix seconds)}``, acknowledged with ``{"result": 0, "errmsg":
  "OK"}``; also unsigned, so the same URL ``token``. It carries no message id: the id is a hash
  of number, time and text, the same for every redelivery.
- ``generic`` — any other gateway: a JSON object ``{id, from, text, sent_at?}`` (``sent_at``
  Unix seconds), signed ``X-Guahao-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "."
  + body)>`` with ``X-Guahao-Timestamp: <Unix seconds>``; a timestamp outside the window is
  stale and refused. Acknowledged with ``{"received": n}``.

:func:`read` returns the :class:`Uplink` messages of an authenticated request or raises
:class:`Refused` (the HTTP status, a stable code and a message), having changed nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Mapping

PROVIDERS = ("aliyun", "tencent", "generic")
BEIJING = timezone(timedelta(hours=8))
MAX_BODY = 64 * 1024
MAX_TEXT = 500


@dataclass(frozen=True)
class Uplink:
    """One member's message: the provider's id of it, the sender's number as given, the text
    and when it was sent (UTC; ``None`` when the gateway does not say)."""

    message_id: str
    phone: str
    text: str
    sent_at: datetime | None


class Refused(Exception):
    """The request is not believed or cannot be read: answered ``status`` with ``code``."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


def acknowledgement(provider: str, count: int) -> dict:
    """The body each gateway expects for a request it may stop pushing."""
    if provider == "aliyun":
        return {"code": 0, "msg": "接收成功"}
    if provider == "tencent":
        return {"result": 0, "errmsg": "OK"}
    return {"received": count}


def generic_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, timestamp + "." + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _token_ok(given: str, expected: str) -> None:
    if not expected:
        raise Refused(400, "not_configured", "this city has no uplink token for this gateway")
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused(401, "invalid_token", "the uplink token does not match")


def _json(body: bytes):
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "invalid_payload", "body is not JSON") from None


def _text(value) -> str:
    return str(value if value is not None else "")[:MAX_TEXT]


def _aliyun(body: bytes) -> list[Uplink]:
    items = _json(body)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Refused(400, "invalid_payload", "an SmsUp push is a JSON array of objects")
    found = []
    for item in items:
        seq = str(item.get("sequence_id") or "").strip()
        if not seq or not item.get("phone_number"):
            raise Refused(400, "invalid_payload", "an SmsUp message needs phone_number and sequence_id")
        try:
            sent = datetime.strptime(str(item.get("send_time", "")), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
        except ValueError:
            sent = None
        found.append(Uplink(seq[:120], _text(item["phone_number"])[:20], _text(item.get("content")),
                            sent.astimezone(timezone.utc) if sent else None))
    return found


def _tencent(body: bytes) -> list[Uplink]:
    item = _json(body)
    if not isinstance(item, dict) or not item.get("mobile"):
        raise Refused(400, "invalid_payload", "a reply callback is a JSON object with mobile and text")
    nation = str(item.get("nationcode") or "86").lstrip("+")
    mobile = str(item["mobile"])
    phone = mobile if nation == "86" else f"+{nation}{mobile}"
    try:
        sent = datetime.fromtimestamp(int(item.get("time")), timezone.utc)
    except (TypeError, ValueError, OverflowError):
        sent = None
    digest = hashlib.sha256(f"{nation}|{mobile}|{item.get('time')}|{item.get('text')}".encode()).hexdigest()[:40]
    return [Uplink(digest, phone[:20], _text(item.get("text")), sent)]


def _generic(body: bytes, headers: Mapping[str, str], secret: str, tolerance: int, now: datetime) -> list[Uplink]:
    if not secret:
        raise Refused(400, "not_configured", "this city has no generic signing secret")
    timestamp, given = headers.get("x-guahao-timestamp", ""), headers.get("x-guahao-signature", "")
    if not timestamp.isdigit() or not given:
        raise Refused(401, "invalid_signature", "X-Guahao-Timestamp and X-Guahao-Signature are required")
    if not hmac.compare_digest(generic_signature(secret, timestamp, body).encode(), given.encode()):
        raise Refused(401, "invalid_signature", "X-Guahao-Signature does not verify")
    if abs(now.timestamp() - int(timestamp)) > tolerance:
        raise Refused(401, "stale_timestamp", f"X-Guahao-Timestamp is more than {tolerance} s from now")
    item = _json(body)
    if not isinstance(item, dict) or not item.get("id") or not item.get("from"):
        raise Refused(400, "invalid_payload", "a generic uplink is a JSON object with id, from and text")
    try:
        sent = datetime.fromtimestamp(int(item["sent_at"]), timezone.utc) if item.get("sent_at") else None
    except (TypeError, ValueError, OverflowError):
        sent = None
    return [Uplink(str(item["id"])[:120], _text(item["from"])[:20], _text(item.get("text")), sent)]


def read(provider: str, *, body: bytes, headers: Mapping[str, str], query: Mapping[str, str], secrets: Mapping,
         tolerance: int, now: datetime) -> list[Uplink]:
    """The messages of a request to ``/{provider}`` once it is authenticated."""
    if len(body) > MAX_BODY:
        raise Refused(413, "payload_too_large", "request body too large")
    if provider == "aliyun":
        _token_ok(query.get("token", ""), str(secrets.get("aliyun_token") or ""))
        return _aliyun(body)
    if provider == "tencent":
        _token_ok(query.get("token", ""), str(secrets.get("tencent_token") or ""))
        return _tencent(body)
    if provider == "generic":
        return _generic(body, headers, str(secrets.get("generic_secret") or ""), tolerance, now)
    raise Refused(404, "unknown_provider", f"no uplink format {provider!r}; use one of {', '.join(PROVIDERS)}")
