"""The console session: one signed cookie ``guahao_console`` naming the principal and its city.

Signed with a key of its own purpose (a patient-site cookie never passes as a console one).
HttpOnly, SameSite=Strict, Secure when the request came over HTTPS (directly or through a
trusted proxy, see ``core.web.session``). A session ends 8 hours after log-in whatever
happens, or after 30 minutes without a request. A fresh CSRF token is issued at log-in.

The cookie also carries the account's session generation at log-in; every request compares it
with the account row it loads anyway (``kit.pages.load_principal``), so raising the account's
generation — log-out, a new password, an administrator's "End sessions" — ends every copy of
every cookie issued before, on all devices, at once.

Besides the logged-in principal it carries short-lived state of an unfinished log-in: the
account awaiting its TOTP code, and the OpenID Connect state and nonce during single sign-on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from guahao.core.web.session import csrf_matches, new_csrf_token, read_cookie, write_cookie

COOKIE = "guahao_console"
PURPOSE = "guahao-console-session"
PATH = "/console"
ABSOLUTE_SECONDS = 8 * 3600
IDLE_SECONDS = 30 * 60
PENDING_SECONDS = 5 * 60  # a TOTP step or an SSO round trip must finish within this


def now() -> int:
    from guahao.tenants.clock import utcnow

    return int(utcnow().timestamp())


@dataclass
class ConsoleSession:
    """What the cookie holds.

    Parameters:
        kind: ``"staff"``/``"vendor"`` when logged in, else ``None``.
        account_id: the logged-in account.
        city_id, city_slug: a staff member's city (``None`` for the vendor).
        generation: the account's session generation at log-in (see the module docstring).
        issued: log-in time (absolute expiry counts from here).
        seen: the last request (idle expiry counts from here).
        csrf: the synchronizer token every form posts back.
        pending: an unfinished log-in (``{"kind", "id", "city_id", "city_slug", "until"}``), or the
            OIDC round trip (``{"sso": True, "state", "nonce", "city_id", "until", "next"}``).
        flash: a one-time message for the next page.
    """

    kind: str | None = None
    account_id: int | None = None
    city_id: int | None = None
    city_slug: str | None = None
    generation: int = 0
    issued: int = 0
    seen: int = 0
    csrf: str = field(default_factory=new_csrf_token)
    pending: dict[str, Any] | None = None
    flash: str | None = None
    changed: bool = False
    expired: bool = False

    @property
    def logged_in(self) -> bool:
        return self.kind is not None and self.account_id is not None

    def log_in(self, kind: str, account_id: int, city_id: int | None, city_slug: str | None,
               generation: int = 0) -> None:
        """Start a session; a new CSRF token so one seen before log-in cannot be replayed."""
        self.kind, self.account_id, self.city_id, self.city_slug = kind, account_id, city_id, city_slug
        self.generation = generation
        self.issued = self.seen = now()
        self.csrf = new_csrf_token()
        self.pending = None
        self.changed = True

    def log_out(self) -> None:
        self.kind = self.account_id = self.city_id = self.city_slug = None
        self.issued = self.seen = self.generation = 0
        self.csrf = new_csrf_token()
        self.pending = None
        self.changed = True

    def set_pending(self, **values: Any) -> None:
        self.pending = {**values, "until": now() + PENDING_SECONDS}
        self.changed = True

    def take_pending(self) -> dict[str, Any] | None:
        """The unfinished log-in state if still fresh (it is cleared either way)."""
        pending, self.pending = self.pending, None
        self.changed = True
        if not pending or int(pending.get("until", 0)) < now():
            return None
        return pending

    def peek_pending(self) -> dict[str, Any] | None:
        if not self.pending or int(self.pending.get("until", 0)) < now():
            return None
        return self.pending

    def set_flash(self, message: str) -> None:
        self.flash = message
        self.changed = True

    def pop_flash(self) -> str | None:
        message, self.flash = self.flash, None
        if message:
            self.changed = True
        return message

    def csrf_ok(self, token: str | None) -> bool:
        return csrf_matches(self.csrf, token)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def load(request: Request, secret: str | Sequence[str]) -> ConsoleSession:
    """The request's session; an expired or tampered cookie gives an empty one (``expired`` set
    when a logged-in session ran out, so the log-in page can say why). ``secret``: the keys the
    cookie may be signed with (``Settings.secret_keys``)."""
    payload = read_cookie(request, COOKIE, PURPOSE, secret)
    if not payload or not isinstance(payload.get("t"), str):
        return ConsoleSession(changed=True)
    pending = payload.get("p") if isinstance(payload.get("p"), dict) else None
    flash = payload.get("f") if isinstance(payload.get("f"), str) else None
    session = ConsoleSession(csrf=payload["t"], pending=pending, flash=flash)
    kind, account = payload.get("k"), _int(payload.get("a"))
    issued, seen = _int(payload.get("i")) or 0, _int(payload.get("s")) or 0
    if kind in ("staff", "vendor") and account is not None:
        t = now()
        if issued + ABSOLUTE_SECONDS < t or seen + IDLE_SECONDS < t:
            session.log_out()
            session.expired = True
        else:
            session.kind, session.account_id = kind, account
            session.city_id = _int(payload.get("c"))
            session.city_slug = payload.get("cs") if isinstance(payload.get("cs"), str) else None
            session.issued, session.seen = issued, t
            session.generation = _int(payload.get("g")) or 0
            session.changed = True  # the idle clock moves with every request
    return session


def save(response: Response, request: Request, session: ConsoleSession, secret: str) -> None:
    """Write the cookie when something changed."""
    if not session.changed:
        return
    payload: dict[str, Any] = {"t": session.csrf}
    if session.logged_in:
        payload.update(k=session.kind, a=session.account_id, c=session.city_id, cs=session.city_slug,
                       i=session.issued, s=session.seen, g=session.generation)
    if session.pending:
        payload["p"] = session.pending
    if session.flash:
        payload["f"] = session.flash
    max_age = max(60, session.issued + ABSOLUTE_SECONDS - now()) if session.logged_in else ABSOLUTE_SECONDS
    write_cookie(response, request, name=COOKIE, payload=payload, purpose=PURPOSE, key=secret, max_age=max_age,
                 path=PATH, samesite="strict")
