"""The site's session: a signed cookie holding the member id and the CSRF token.

The cookie is HMAC-SHA256 signed with a key derived from the platform secret, names the city
it was issued for (a cookie of one city is worthless in another) and expires. It is HttpOnly,
SameSite=Lax, and Secure when the request came over HTTPS (directly or through a trusted
proxy, see ``core.web.session``). Display preferences live in a separate, unsigned cookie:
they grant nothing.

The cookie also carries the member's session generation at log-in; the member row loaded for
every request must still have it (``Page.load_member``), so log-out or a new password ends every
copy of every cookie issued before (``core.members.sessions``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from guahao.core.web.session import (
    csrf_matches,
    is_https,
    new_csrf_token,
    read_cookie,
    write_cookie,
)

COOKIE = "guahao_session"
PREFS_COOKIE = "guahao_prefs"
MAX_AGE = 12 * 3600
PREFS_MAX_AGE = 365 * 24 * 3600
PREFS = ("large", "contrast")


PURPOSE = "guahao-web-session"


@dataclass
class Session:
    """One visitor's session in one city.

    Parameters:
        city_id: the city the session belongs to.
        member_id: the logged-in member, or ``None``.
        generation: the member's session generation at log-in.
        csrf: the synchronizer token every form posts back.
        changed: the cookie must be written on the response.
    """

    city_id: int
    member_id: int | None = None
    csrf: str = field(default_factory=new_csrf_token)
    changed: bool = False
    generation: int = 0

    def log_in(self, member_id: int, generation: int = 0) -> None:
        """A fresh CSRF token at login, so a token seen before cannot be replayed after."""
        self.member_id = member_id
        self.generation = generation
        self.csrf = new_csrf_token()
        self.changed = True

    def log_out(self) -> None:
        self.member_id = None
        self.generation = 0
        self.csrf = new_csrf_token()
        self.changed = True

    def csrf_ok(self, token: str | None) -> bool:
        return csrf_matches(self.csrf, token)


def load(request: Request, secret: str | Sequence[str], city_id: int) -> Session:
    payload = read_cookie(request, COOKIE, PURPOSE, secret)
    now = int(time.time())
    if not payload or payload.get("c") != city_id or not isinstance(payload.get("t"), str):
        return Session(city_id, changed=True)
    if not isinstance(payload.get("e"), int) or payload["e"] < now:
        return Session(city_id, changed=True)
    member = payload.get("m")
    return Session(city_id, member if isinstance(member, int) else None, payload["t"], generation=int_or_zero(payload.get("g")))


def int_or_zero(value) -> int:
    """An integer claim of the cookie, or 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def save(response: Response, request: Request, session: Session, secret: str, path: str) -> None:
    """Write the cookie when the session changed (and refresh it for a member, sliding expiry)."""
    if not session.changed and session.member_id is None:
        return
    payload = {"c": session.city_id, "m": session.member_id, "t": session.csrf, "g": session.generation,
               "e": int(time.time()) + MAX_AGE}
    write_cookie(response, request, name=COOKIE, payload=payload, purpose=PURPOSE, key=secret, max_age=MAX_AGE,
                 path=path, samesite="lax")


def load_prefs(request: Request) -> set[str]:
    return {p for p in request.cookies.get(PREFS_COOKIE, "").split("-") if p in PREFS}


def save_prefs(response: Response, request: Request, prefs: set[str], path: str) -> None:
    response.set_cookie(
        PREFS_COOKIE, "-".join(sorted(prefs)) or "none", max_age=PREFS_MAX_AGE, path=path, httponly=True,
        samesite="lax", secure=is_https(request),
    )
