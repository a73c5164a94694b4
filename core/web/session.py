"""What the patient site's and the console's sessions share: a signed cookie, its CSRF token,
and whether the request came over HTTPS.

Each session keeps its own cookie name, lifetime and SameSite policy; the cookie is signed with
a key of its own purpose (``core.web.signing``), so one kind never passes for the other.
Whether a request is HTTPS is the request's own scheme: the app believes ``X-Forwarded-Proto``
only from the configured proxies (``Settings.trusted_proxies``), which rewrite the scheme
before any page sees it, so a client cannot claim https by sending the header itself.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from typing import Literal

from starlette.requests import Request
from starlette.responses import Response

from . import signing


def new_csrf_token() -> str:
    """A fresh synchronizer token (every log-in and log-out issues one)."""
    return secrets.token_urlsafe(24)


def csrf_matches(expected: str, given: str | None) -> bool:
    """Whether a posted token is the session's (constant time)."""
    return bool(given) and bool(expected) and hmac.compare_digest(str(given).encode(), expected.encode())


def is_https(request: Request) -> bool:
    """The request reached us over HTTPS (directly, or through a trusted proxy that said so)."""
    return request.url.scheme == "https"


def read_cookie(request: Request, name: str, purpose: str, keys: str | Sequence[str]) -> dict | None:
    """The payload of a cookie signed for ``purpose`` with one of ``keys``; ``None`` when it is
    missing, tampered with or malformed."""
    return signing.unsign(keys, request.cookies.get(name, ""), purpose)


def write_cookie(
    response: Response,
    request: Request,
    *,
    name: str,
    payload: dict,
    purpose: str,
    key: str,
    max_age: int,
    path: str,
    samesite: Literal["lax", "strict"],
) -> None:
    """Set a signed, HttpOnly cookie; Secure whenever the request came over HTTPS."""
    response.set_cookie(name, signing.sign(key, payload, purpose), max_age=max_age, path=path, httponly=True,
                        samesite=samesite, secure=is_https(request))
