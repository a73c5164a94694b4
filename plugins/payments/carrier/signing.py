"""The carrier gateway's request signature (``docs/carrier-gateway.md`` §2), the same both ways.

``signature = hex(HMAC-SHA256(shared_secret, METHOD + "\\n" + TARGET + "\\n" + TIMESTAMP + "\\n"
+ NONCE + "\\n" + sha256_hex(BODY)))`` where ``TARGET`` is the path with its query string as sent,
``TIMESTAMP`` whole seconds since the epoch and ``NONCE`` 16–64 characters of ``[A-Za-z0-9_-]``.
The headers ``X-Carrier-Key-Id``, ``X-Carrier-Timestamp``, ``X-Carrier-Nonce`` and
``X-Carrier-Signature`` carry them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets as _secrets
from typing import Mapping

from guahao.plugin_api import utcnow

KEY_ID, TIMESTAMP, NONCE, SIGNATURE = "X-Carrier-Key-Id", "X-Carrier-Timestamp", "X-Carrier-Nonce", "X-Carrier-Signature"
WINDOW = 300  # seconds either side of now a timestamp is accepted
NONCE_MEMORY = 600  # seconds a nonce is remembered
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


def string_to_sign(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), target, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode("utf-8")


def sign(secret: str, method: str, target: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), string_to_sign(method, target, timestamp, nonce, body),
                    hashlib.sha256).hexdigest()


def now_seconds() -> int:
    return int(utcnow().timestamp())


def headers(key_id: str, secret: str, method: str, target: str, body: bytes, *,
            timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four signature headers of a request (or an answer) with ``body``."""
    ts = str(now_seconds() if timestamp is None else timestamp)
    nonce = nonce or _secrets.token_urlsafe(24)
    return {KEY_ID: key_id, TIMESTAMP: ts, NONCE: nonce, SIGNATURE: sign(secret, method, target, ts, nonce, body)}


def problem(received: Mapping[str, str], *, key_id: str, secret: str, method: str, target: str, body: bytes) -> str:
    """Why signed headers do not hold (``unknown_key``, ``stale``, ``invalid_signature``), or
    ``""``. The nonce's memory is the caller's (it needs storage)."""
    get = {k.lower(): v for k, v in received.items()}.get
    if not key_id or not hmac.compare_digest(str(get(KEY_ID.lower(), "")), key_id):
        return "unknown_key"
    ts, nonce, given = str(get(TIMESTAMP.lower(), "")), str(get(NONCE.lower(), "")), str(get(SIGNATURE.lower(), ""))
    if not ts.isdigit() or abs(now_seconds() - int(ts)) > WINDOW:
        return "stale"
    if not _NONCE.match(nonce) or not _HEX.match(given):
        return "invalid_signature"
    if not hmac.compare_digest(sign(secret, method, target, ts, nonce, body), given):
        return "invalid_signature"
    return ""


def nonce_of(received: Mapping[str, str]) -> str:
    return str({k.lower(): v for k, v in received.items()}.get(NONCE.lower(), ""))
