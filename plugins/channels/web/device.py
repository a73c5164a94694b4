"""The browser's device cookie: a random id the site gives every browser once, so the
anti-scalper limits (``core.ratelimit``) can count registrations and bookings per device and
the console can group accounts registered from one device. It grants nothing and holds
nothing personal; only a keyed hash of it is stored with a member (``core.members.service``).
"""

from __future__ import annotations

import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

from guahao.core.web.session import is_https

COOKIE = "guahao_device"
MAX_AGE = 2 * 365 * 24 * 3600
SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def read(request: Request) -> str:
    """This browser's device id, or "" when it has none (or a malformed one)."""
    value = request.cookies.get(COOKIE, "")
    return value if SHAPE.fullmatch(value) else ""


def ensure(response: Response, request: Request) -> None:
    """Give the browser a device id when it has none (site-wide, for two years)."""
    if not read(request):
        response.set_cookie(COOKIE, secrets.token_urlsafe(18), max_age=MAX_AGE, path="/", httponly=True,
                            samesite="lax", secure=is_https(request))
