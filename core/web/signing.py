"""Signed cookie values shared by the patient site and the operator console.

A value is ``base64url(JSON).base64url(HMAC-SHA256)``; the key is derived from the platform
secret and a *purpose*, so a value signed for one cookie is worthless as another (a patient
session never passes as a console session).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json


def _key(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(purpose.encode() + b"\x00" + secret.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: str, payload: dict, purpose: str) -> str:
    """The signed form of ``payload`` (a JSON object) for cookies of ``purpose``."""
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = _b64(hmac.new(_key(secret, purpose), body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def unsign(secret: str, value: str, purpose: str) -> dict | None:
    """The payload of a value signed for ``purpose``, or ``None`` (tampered, malformed)."""
    try:
        body, mac = value.split(".", 1)
        expected = _b64(hmac.new(_key(secret, purpose), body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac, expected):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) else None
