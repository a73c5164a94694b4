"""Both directions are signed alike: HMAC-SHA256 over ``"<unix seconds>.<body>"``."""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP = "X-Guahao-Timestamp"
SIGNATURE = "X-Guahao-Signature"
TOLERANCE_SECONDS = 300


def signature(key: str, timestamp: str, body: bytes) -> str:
    return hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def headers(key: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers that sign ``body`` at ``timestamp``."""
    return {TIMESTAMP: str(timestamp), SIGNATURE: signature(key, str(timestamp), body),
            "Content-Type": "application/json"}


def verify(key: str, timestamp: str, given: str, body: bytes, now: int) -> bool:
    """Whether ``given`` signs ``body`` with ``key`` and the timestamp is within tolerance."""
    if not key or not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(signature(key, timestamp, body), given)
