"""Signed cookie values shared by the patient site and the operator console.

A value is ``base64url(JSON).base64url(HMAC-SHA256)``; the key is derived from the platform
secret and a *purpose*, so a value signed for one cookie is worthless as another (a patient
session never passes as a console session). Values are signed with one secret and checked
against a list of them (the current secret first, then old ones still accepted while a key
is rotated: ``Settings.secret_keys``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence


def _key(secret: str, purpose: str) -> bytes:
    return hashlib.sha256(purpose.encode() + b"\x00" + secret.encode()).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, purpose: str, body: str) -> str:
    return _b64(hmac.new(_key(secret, purpose), body.encode(), hashlib.sha256).digest())


def sign(secret: str, payload: dict, purpose: str) -> str:
    """The signed form of ``payload`` (a JSON object) for cookies of ``purpose``."""
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_mac(secret, purpose, body)}"


def unsign(secret: str | Sequence[str], value: str, purpose: str) -> dict | None:
    """The payload of a value signed for ``purpose`` with ``secret`` (or one of a list of
    secrets), or ``None`` (tampered, malformed, or signed with a key no longer listed)."""
    keys = [secret] if isinstance(secret, str) else list(secret)
    try:
        body, mac = value.split(".", 1)
        if not any(hmac.compare_digest(mac, _mac(k, purpose, body)) for k in keys):
            return None
        payload = json.loads(_unb64(body))
    except (ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) else None
