"""Request plumbing of every console page: session, principal, city, CSRF, language, rendering,
and refusals as pages.

A handler is wrapped with :func:`console_page` and receives a :class:`Console` context::

    @console_page("staff.manage")
    async def staff_list(c: Console) -> Response:
        async with c.transaction() as s:
            rows = await list_staff(s)
        return c.render("staff/list.html", rows=rows)

The wrapper loads the session and its principal (logging out an account deactivated or locked
since), sends anonymous visitors to the log-in page, answers another city's URL with 404 (and
another city's host name on a page without a city in its path: such pages run in the staff
member's own city, never the Host header's),
CSRF-checks every POST, checks the capability (403) and turns a ``DomainError`` into a page
in the person's language with the error's 4xx status, never a 500.
"""

from __future__ import annotations

import contextlib
import logging
from functools import lru_cache, wraps
from pathlib import Path
from typing import AsyncIterator, Awaitable, Callable
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from guahao.core.booking import labels
from guahao.core.catalogue.places import place_label
from guahao.core.errors import DomainError, NotFound
from guahao.core.models.staff import ROLE_LABELS, StaffAccount, VendorAccount
from guahao.core.staff.auth import usable
from guahao.core.web.i18n import LANGUAGE_NAMES, CatalogTranslator, pick
from guahao.licensing.licences.banner import staff_banner
from guahao.tenants.context import CityContext, current_city, reset_city, set_city, use_city

from . import access
from . import session as sessions
from .access import Principal
from .navigation import navigation

log = logging.getLogger("guahao.console")

# The templates and catalogs sit at the top of the console package, beside app.py.
CONSOLE = Path(__file__).resolve().parent.parent
LOCALE = CONSOLE / "locale"
LANG_COOKIE = "guahao_console_lang"


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The console's templates (``operator_console/templates``), built once per process."""
    env = Environment(
        loader=FileSystemLoader(CONSOLE / "templates"),
        autoescape=select_autoescape(default=True),
        auto_reload=False,
    )
    env.filters["yuan"] = lambda fen: f"{int(fen) // 100}.{int(fen) % 100:02d}"
    env.filters["place"] = place_label  # a session's place (campus) as people read it
    return env


def translator(language: str | None) -> CatalogTranslator:
    return CatalogTranslator(LOCALE, language)


class Console:
    """One console request.

    Attributes:
        request: the Starlette request.
        rt: the process runtime (``rt.db`` is the tenant-scoped database).
        session: the :class:`~operator_console.kit.session.ConsoleSession`.
        principal: who is asking (``None`` only on pages open to anonymous visitors).
        city: the city of a ``/console/c/{city}/`` URL (or a staff member's own city), else ``None``.
        lang, _, gettext: the person's language and its translator.
        form: the posted form fields (strings) of a POST; ``form_lists`` holds every value.
        csrf: the token forms post back (``<input type="hidden" name="csrf" value="{{ csrf }}">``).
    """

    def __init__(self, request: Request, session: sessions.ConsoleSession):
        self.request = request
        self.rt = request.app.state.rt
        self.session = session
        self.principal: Principal | None = None
        self.city: CityContext | None = None
        self.lang = pick(request.cookies.get(LANG_COOKIE))
        self._ = self.gettext = translator(self.lang)
        self.form: dict[str, str] = {}
        self.form_lists: dict[str, list[str]] = {}
        self.licence_banner = None  # the city's licence banner (licensing), set for staff pages

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def ip(self) -> str:
        return self.request.client.host if self.request.client else ""

    def actor(self):
        """The audit actor of this request's principal (with the client address)."""
        return self.principal.actor(self.ip)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A database session in one transaction, scoped to the request's city."""
        if self.city is not None and current_city() is None:
            with use_city(self.city):
                async with self.rt.db.transaction() as s:
                    yield s
        else:
            async with self.rt.db.transaction() as s:
                yield s

    def url(self, path: str = "") -> str:
        """A path in the request's city console (``/console/c/{city}/{path}``), or the vendor's."""
        base = f"/console/c/{self.city.slug}/" if self.city is not None else "/console/vendor/"
        return base + path.lstrip("/")

    def require(self, capability: str) -> None:
        access.require(self.principal, capability)

    async def hospital_scope(self, s: AsyncSession) -> set[int] | None:
        return await access.hospital_ids_in_scope(s, self.principal)

    async def check_hospital(self, s: AsyncSession, hospital_id: int | None):
        return await access.check_hospital(s, self.principal, hospital_id)

    def int_field(self, name: str) -> int | None:
        """A posted or query integer, or ``None`` when missing or not a number."""
        value = self.form.get(name, self.request.query_params.get(name, ""))
        value = str(value).strip()
        return int(value) if value.isdigit() and len(value) < 10 else None

    def finish(self, response: Response) -> Response:
        sessions.save(response, self.request, self.session, self.rt.settings.secret_key)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    def render(self, template: str, status: int = 200, **context) -> Response:
        """Render a template of ``operator_console/templates`` extending ``base.html``."""
        here = self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")
        html = environment().get_template(template).render(
            _=self._, lang=self.lang, languages=LANGUAGE_NAMES, city=self.city, principal=self.principal,
            csrf=self.csrf, url=self.url, here=here, flash=self.session.pop_flash(),
            nav=navigation(self.principal, self.city, self._) if self.principal else [],
            role_labels=ROLE_LABELS, licence_banner=self.licence_banner, **self.labels(),
            **context,
        )
        return self.finish(HTMLResponse(html, status_code=status))

    def redirect(self, url: str, flash: str | None = None) -> Response:
        """303 to ``url`` (an absolute path, or relative to this city's console) with an
        optional one-time message for the next page."""
        if flash:
            self.session.set_flash(flash)
        target = url if url.startswith("/") else self.url(url)
        return self.finish(RedirectResponse(target, status_code=303))

    def error(self, exc: DomainError) -> Response:
        status = exc.status if 400 <= exc.status < 500 else 400
        return self.render("error.html", status=status, code=exc.code, message=self.refusal(exc),
                           details=exc.details if isinstance(exc.details, dict) else None)

    def labels(self) -> dict:
        """The booking domain's codes as staff read them in this language (``core.booking.labels``):
        ``status_label(b.status)``, ``pool_label(kind)``, ``reason_label(b.cancel_reason)``."""
        lang = self.lang
        return {
            "status_label": lambda code: labels.status_label(code, lang, reader="staff"),
            "pool_label": lambda code: labels.pool_label(code, lang, reader="staff"),
            "reason_label": lambda code: labels.reason_label(code, lang, reader="staff"),
            "waitlist_label": lambda code: labels.waitlist_label(code, lang, reader="staff"),
        }

    def refusal(self, exc: DomainError) -> str:
        """The error's sentence in the person's language (messages are "中文 / English"); a
        booking rule's refusal in the wording for staff acting for a patient."""
        known = ERROR_TEXT.get(exc.code)
        if known:
            return self._(known)
        staff = labels.refusal_text(exc.code, exc.details, self.lang, reader="staff")
        if staff:
            return staff
        zh, sep, en = exc.message.partition(" / ")
        if sep:
            return zh if self.lang == "zh-CN" else en
        return exc.message

    def login_url(self) -> str:
        base = f"/console/c/{self.city.slug}/login" if self.city is not None else "/console/login"
        path = self.request.url.path
        return base + ("?next=" + quote(path) if self.request.method == "GET" and path.rstrip("/") != "/console" else "")

    def safe_next(self, value: str | None, default: str) -> str:
        """A place to go after log-in: only a console path on this host."""
        if isinstance(value, str) and value.startswith("/console/") and "//" not in value and "\\" not in value:
            return value
        return default


# Messages of errors whose own text is English only.
ERROR_TEXT = {
    "not_found": "Not found.",
    "staff_not_found": "This staff account does not exist or is outside your scope.",
    "hospital_not_found": "This hospital does not exist or is outside your scope.",
    "district_not_found": "This district does not exist or is outside your scope.",
    "city_not_found": "Not found.",
    "csrf": "This form has expired or did not come from this site. Please go back, reload the page and try again.",
}


async def load_principal(c: Console) -> Principal | None:
    """The session's principal if its account is still active, unlocked and its sessions were not
    ended since the cookie was issued (same session generation); else log out."""
    s = c.session
    if not s.logged_in:
        return None
    if s.kind == "vendor":
        async with c.rt.db.transaction() as db:
            account = await db.get(VendorAccount, s.account_id)
        ok = usable(account) and account.session_generation == s.generation
        principal = Principal.of_vendor(account) if ok else None
    else:
        home = c.city if c.city is not None and c.city.id == s.city_id else None
        if home is None and s.city_slug:
            home = await c.rt.resolver.by_slug(s.city_slug)
        if home is None or home.id != s.city_id:
            principal = None
        else:
            with use_city(home):
                async with c.rt.db.transaction() as db:
                    account = await db.get(StaffAccount, s.account_id)
            ok = usable(account) and account.city_id == home.id and account.session_generation == s.generation
            principal = Principal.of_staff(account) if ok else None
            if principal is not None and c.city is None:
                c.city = home
    if principal is None:
        s.log_out()
        s.set_flash(c._("Your session has ended. Please log in again."))
    return principal


Handler = Callable[[Console], Awaitable[Response]]


def console_page(capability: str | None = None, *, anonymous: bool = False, vendor_only: bool = False):
    """Wrap a console handler (see the module docstring).

    Parameters:
        capability: what the principal's role must allow (``None``: any logged-in principal).
        anonymous: the page is open without log-in (log-in pages); the principal may be ``None``.
        vendor_only: only the vendor (platform pages under ``/console/vendor/``).
    """

    def decorate(handler: Handler):
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            c = Console(request, sessions.load(request, request.app.state.rt.settings.secret_keys))
            slug = request.path_params.get("city")
            host_city = current_city() if slug is None else None  # what the Host header named, if anything
            if slug is not None:
                city = current_city()
                if city is None or city.slug != slug:
                    return c.error(NotFound("city", code="city_not_found"))
                c.city = city
            c.principal = await load_principal(c)
            if slug is not None and c.principal is not None and not access.may_enter_city(c.principal, c.city.id):
                c.principal = None  # another city's staff: as if the page did not exist
                return c.error(NotFound("city", code="city_not_found"))
            if (host_city is not None and c.principal is not None and not c.principal.is_vendor
                    and host_city.id != c.principal.city_id):
                c.principal = None  # another city's host name: as if the page did not exist
                return c.error(NotFound("city", code="city_not_found"))
            if request.method == "POST":
                form = await request.form()
                c.form = {k: v for k, v in form.items() if isinstance(v, str)}
                c.form_lists = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form.keys()}
                if not c.session.csrf_ok(c.form.get("csrf")):
                    return c.render("error.html", status=403, code="csrf", message=c._(ERROR_TEXT["csrf"]))
            if c.principal is None and not anonymous:
                flash = c._("Your session has ended. Please log in again.") if c.session.expired else None
                return c.redirect(c.login_url(), flash=flash)
            try:
                if c.principal is not None and not anonymous:
                    if vendor_only and not c.principal.is_vendor:
                        raise NotFound("page")
                    if capability:
                        c.require(capability)
                    c.licence_banner = await staff_banner(c.rt, c.city)
                if slug is None:
                    # Without a city in the path the page runs in the account's own city (the
                    # vendor's and anonymous pages in none), never in the one the Host named.
                    token = set_city(c.city)
                    try:
                        return await handler(c)
                    finally:
                        reset_city(token)
                return await handler(c)
            except DomainError as exc:
                return c.error(exc)

        endpoint.capability = capability
        return endpoint

    return decorate
