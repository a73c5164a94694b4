"""Alibaba Cloud API signature V3 (ACS3-HMAC-SHA256) for RPC-style calls such as ``SendSms``.

Parameters travel in the query string and the body is empty; every header sent is signed.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"


def percent(value: str) -> str:
    """RFC 3986 encoding: unreserved characters kept, space as ``%20``, ``~`` kept."""
    return quote(value, safe="-_.~")


def canonical_query(params: dict[str, str]) -> str:
    pairs = sorted((percent(k), percent(v)) for k, v in params.items())
    return "&".join(f"{k}={v}" for k, v in pairs)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def string_to_sign(method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[str, str]:
    """``(StringToSign, SignedHeaders)`` for lower-cased ``headers`` (all of them signed)."""
    names = sorted(headers)
    canonical_headers = "".join(f"{n}:{headers[n].strip()}\n" for n in names)
    signed = ";".join(names)
    canonical = "\n".join([method, path or "/", query, canonical_headers, signed, sha256_hex(body)])
    return f"{ALGORITHM}\n{sha256_hex(canonical.encode())}", signed


def signed_headers(
    *,
    host: str,
    action: str,
    version: str,
    query: str,
    key_id: str,
    secret: str,
    now: datetime,
    body: bytes = b"",
    method: str = "POST",
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers of one signed request, ``Authorization`` included."""
    headers = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": sha256_hex(body),
    }
    to_sign, signed = string_to_sign(method, "/", query, headers, body)
    signature = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = f"{ALGORITHM} Credential={key_id},SignedHeaders={signed},Signature={signature}"
    return headers
