"""Request plumbing shared by every page: session, CSRF, language, display preferences,
rendering and the mapping of refusals to pages.

A handler receives a :class:`Page` (the request with its city, session, member and
translator) and returns a response; :func:`page` wraps it so that every POST is CSRF-checked,
member-only pages send visitors to the log-in form, and a ``DomainError`` becomes a page
with a plain sentence instead of a 500.
"""

from __future__ import annotations

import logging
from functools import wraps
from pathlib import Path
from typing import Awaitable, Callable
from urllib.parse import unquote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from guahao.core import ratelimit
from guahao.core.catalogue.places import place_label
from guahao.core.errors import DomainError
from guahao.core.members.service import get_member
from guahao.core.models import Member
from guahao.tenants.context import CityContext, current_city
from guahao.tenants.rate_limits import scope_of

from . import device
from . import session as sessions
from .i18n import LANGUAGE_NAMES, Translator, pick
from .messages import sentence

log = logging.getLogger("guahao.web")

HERE = Path(__file__).parent
LANG_COOKIE = "guahao_lang"
HALF_DAYS = {"am": "Morning", "pm": "Afternoon", "night": "Evening"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Why a visitor was sent to log in (the ``why`` of the log-in link), as the log-in and
# registration pages say it; anything else in ``why`` is ignored.
REASONS = {
    "book": "Log in to book: you will come back to the time you chose.",
    "member": "Please log in to see this page. You will come back to it afterwards.",
}
REGISTER_REASONS = {
    "book": "Register to book: once registered you will come back to the time you chose.",
    "member": "Please register to see this page. You will come back to it afterwards.",
}


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,
    )
    env.filters["yuan"] = lambda fen: f"{int(fen) // 100}.{int(fen) % 100:02d}"
    env.filters["place"] = place_label  # a session's place (campus) as people read it
    return env


class Site:
    """What the site keeps for the life of the app: templates and the login throttle.

    Parameters:
        throttle: counts failed logins per (city, login) when the runtime has no Redis;
            default in-process. With Redis the count is shared (``login_throttle``).
    """

    def __init__(self, throttle=None):
        from guahao.core.members.throttle import MemoryLoginThrottle

        self.env = environment()
        self.throttle = throttle or MemoryLoginThrottle()
        self._shared: tuple[object, object] | None = None

    def login_throttle(self, rt):
        """The throttle for this runtime: shared through its Redis when it has one."""
        from guahao.core.members.throttle import for_runtime

        redis = getattr(rt, "redis", None)
        if redis is None:
            return self.throttle
        if self._shared is None or self._shared[0] is not redis:
            self._shared = (redis, for_runtime(rt, self.throttle))
        return self._shared[1]


class Page:
    """One request to the site.

    Parameters:
        request: the Starlette request.
        site: templates and throttle.
        city: the request's city (set by the city middleware).
    """

    def __init__(self, request: Request, site: Site, city: CityContext):
        self.request = request
        self.site = site
        self.city = city
        self.rt = request.app.state.rt
        self.secret = self.rt.settings.secret_key
        self.session = sessions.load(request, self.rt.settings.secret_keys, city.id)
        self.lang = pick(request.cookies.get(LANG_COOKIE))
        self._ = Translator(self.lang)
        self.prefs = sessions.load_prefs(request)
        self.member: Member | None = None
        self.form: dict = {}
        self.hospital_scope: int | None = None  # set on a kiosk bound to one hospital

    @property
    def root(self) -> str:
        return f"/c/{self.city.slug}/"

    def url(self, path: str = "") -> str:
        return self.root + path.lstrip("/")

    async def load_member(self) -> None:
        if self.session.member_id is None:
            return
        async with self.rt.db.transaction() as s:
            self.member = await get_member(s, self.session.member_id)
        if self.member is not None and self.member.session_generation != self.session.generation:
            self.member = None  # the member logged out or changed the password since the cookie was issued
        if self.member is None:  # a session outliving its member
            self.session.log_out()

    def _finish(self, response: Response) -> Response:
        sessions.save(response, self.request, self.session, self.secret, self.root)
        device.ensure(response, self.request)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def limit_ids(self) -> dict[str, str | int | None]:
        """Whom the anti-scalper limits count this request for: the client address, the
        browser's device cookie and the member."""
        return {"ip": ratelimit.client_ip(self.request), "device": device.read(self.request),
                "member": self.member.id if self.member is not None else None}

    async def rate_limit(self, *rules: str, **ids: str | int | None) -> None:
        """Count this request under ``rules`` (``tenants.rate_limits``); ``ids`` adds or
        replaces identifiers (``phone=``). Raises ``RateLimited`` (429) when one is full."""
        known = {**self.limit_ids(), **ids}
        await ratelimit.check(self.rt, self.city.id, [(rule, known.get(scope_of(rule))) for rule in rules])

    def render(self, name: str, status: int = 200, **context) -> Response:
        here = self.request.url.path + (f"?{self.request.url.query}" if self.request.url.query else "")
        html = self.site.env.get_template(name).render(
            _=self._, lang=self.lang, languages=LANGUAGE_NAMES, city=self.city, member=self.member,
            csrf=self.session.csrf, prefs=self.prefs, url=self.url, here=here, half_day=self.half_day,
            weekday=self.weekday, **context,
        )
        return self._finish(HTMLResponse(html, status_code=status))

    def redirect(self, path: str) -> Response:
        return self._finish(RedirectResponse(path if path.startswith("/") else self.url(path), status_code=303))

    def safe_next(self, value: str | None) -> str:
        """A place to go back to: only a path of this city's site (never another host, never
        another city), else the city's home. Refused: absolute URLs, ``//host``, backslashes,
        control characters and dot segments (``/c/this/../other/``), also when percent-encoded."""
        if not isinstance(value, str) or len(value) > 500:
            return self.root
        path = value.split("?", 1)[0].split("#", 1)[0]
        plain = unquote(path)
        if (
            not value.startswith(self.root)
            or not plain.startswith(self.root)
            or any(bad in plain for bad in ("//", "\\"))
            or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in unquote(value))
            or any(segment in (".", "..") for segment in plain.split("/"))
        ):
            return self.root
        return value

    def login_link(self, path: str, next_url: str, why: str | None) -> str:
        """``login`` or ``register`` (or ``login/code``) keeping where to go back and why."""
        query = {"next": next_url} if next_url != self.root else {}
        if why in REASONS:
            query["why"] = why
        return self.url(path) + ("?" + urlencode(query) if query else "")

    def reason(self) -> str | None:
        """The ``why`` the log-in and registration forms were opened (or posted) with, if known."""
        why = self.form.get("why") or self.request.query_params.get("why")
        return why if why in REASONS else None

    def next_url(self) -> str:
        """Where the log-in and registration forms send the member afterwards."""
        return self.safe_next(self.form.get("next") or self.request.query_params.get("next"))

    def half_day(self, code: str) -> str:
        return self._(HALF_DAYS.get(code, code))

    def weekday(self, iso_date: str) -> str:
        from datetime import date

        return self._(WEEKDAYS[date.fromisoformat(str(iso_date)).weekday()])

    def refusal(self, exc: DomainError) -> str:
        return sentence(exc, self._, self.city.tz)

    def error(self, exc: DomainError) -> Response:
        status = exc.status if 400 <= exc.status < 500 else 400
        return retry_after(self.render("error.html", status=status, message=self.refusal(exc), code=exc.code), exc)


def retry_after(response: Response, exc: DomainError | None) -> Response:
    """``response`` with the refusal's ``Retry-After`` header, when it has one (429s)."""
    for name, value in (getattr(exc, "headers", None) or {}).items():
        response.headers[name] = value
    return response


async def other_channels_first(p: Page) -> Response | None:
    """What a plugin of the city answers for this page before it is shown
    (``guahao_site_request``: e.g. the WeChat sign-in of a page opened inside WeChat)."""
    from guahao.core.plugins.manager import call_robust

    plugins = await p.rt.plugins.for_city(p.city)
    for outcome in await call_robust(plugins.hook.guahao_site_request, city=p.city, request=p.request,
                                     member_id=p.member.id if p.member is not None else None, rt=p.rt):
        if isinstance(outcome.result, Response):
            return outcome.result
    return None


Handler = Callable[[Page], Awaitable[Response]]


def page(
    site: Site,
    *,
    member: bool = False,
    page_class: type[Page] = Page,
    login_path: Callable[[Request], str] | None = None,
    reason: str = "member",
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler: CSRF on POST, log-in for member pages, refusals as pages.

    Parameters:
        member: the page needs a logged-in member.
        page_class: the per-request page object (the kiosk has its own).
        login_path: where a visitor who is not logged in is sent (default: the log-in page,
            then back here).
        reason: why the log-in page says it is needed (a key of ``REASONS``).
    """

    def decorate(handler: Handler):
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            city = current_city()
            if city is None or city.slug != request.path_params.get("city"):
                return HTMLResponse("Not found", status_code=404)
            p = page_class(request, site, city)
            await p.load_member()
            if request.method in ("GET", "HEAD") and (answered := await other_channels_first(p)) is not None:
                return answered
            if request.method == "POST":
                form = await request.form()
                p.form = {k: v for k, v in form.items() if isinstance(v, str)}
                if not p.session.csrf_ok(p.form.get("csrf")):
                    return p.render("error.html", status=403, code="csrf", message=p._(
                        "This form has expired or did not come from this site. "
                        "Please go back, reload the page and try again."))
            if member and p.member is None:
                if login_path is not None:
                    return p.redirect(login_path(request))
                here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return p.redirect(p.login_link("login", p.safe_next(here), reason))
            try:
                return await handler(p)
            except DomainError as exc:
                return p.error(exc)

        return endpoint

    return decorate
