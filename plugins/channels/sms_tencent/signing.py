"""Tencent Cloud API signature v3 (TC3-HMAC-SHA256) for JSON POST calls."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signature(*, secret_key: str, host: str, service: str, body: bytes, timestamp: int) -> tuple[str, str]:
    """``(scope, hex signature)`` of a POST to ``/`` signing ``content-type;host``."""
    day = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    canonical = "\n".join(
        ["POST", "/", "", f"content-type:{CONTENT_TYPE}\nhost:{host}\n", "content-type;host", hashlib.sha256(body).hexdigest()]
    )
    scope = f"{day}/{service}/tc3_request"
    to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), day), service), "tc3_request")
    return scope, hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def authorization(*, secret_id: str, secret_key: str, host: str, service: str, body: bytes, timestamp: int) -> str:
    scope, sig = signature(secret_key=secret_key, host=host, service=service, body=body, timestamp=timestamp)
    return f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={sig}"
