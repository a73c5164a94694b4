"""Log-in, the TOTP second step, log-out and the language switch.

Staff log in to their city (``/console/c/{city}/login``, or ``/console/login`` naming the city);
the vendor logs in at ``/console/login`` without a city. A wrong username and a wrong
password get the same answer; five failures lock the account (``core.staff.auth``).
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.errors import DomainError
from guahao.core.models.staff import StaffAccount, VendorAccount
from guahao.core.staff.auth import authenticate_staff, authenticate_vendor, second_factor
from guahao.core.staff.sessions import log_out
from guahao.core.web.i18n import pick
from guahao.tenants.context import use_city

from ..kit.pages import LANG_COOKIE, Console, console_page
from ..kit.session import PATH


def home_of(c: Console) -> str:
    """Where a logged-in principal starts."""
    s = c.session
    if s.kind == "staff" and s.city_slug:
        return f"/console/c/{s.city_slug}/"
    return "/console/vendor/"


async def _sso_label(c: Console) -> str | None:
    """The SSO button's text when the city has single sign-on, else ``None``."""
    from guahao.core.staff.sso import get_provider

    if c.city is None:
        return None
    async with c.transaction() as s:
        p = await get_provider(s)
    if p is None or not p.enabled:
        return None
    return p.label or c._("Single sign-on")


async def _demo_logins(c: Console) -> list[dict]:
    """The demo accounts, on the log-in pages of an installation that runs the demo city."""
    from guahao.core.demo import demo_staff_logins
    from guahao.core.demo.data import CITY_SLUG

    if (c.city is None or c.city.slug == CITY_SLUG) and await c.rt.resolver.by_slug(CITY_SLUG) is not None:
        return demo_staff_logins(include_vendor=c.city is None)
    return []


async def _login_form(c: Console, status: int = 200, error: str | None = None, username: str = "",
                      city_slug: str = "") -> Response:
    return c.render(
        "login.html", status=status, error=error, username=username, city_slug=city_slug,
        sso_label=await _sso_label(c), demo_logins=await _demo_logins(c),
        next=c.request.query_params.get("next", c.form.get("next", "")),
    )


def _finish_login(c: Console, kind: str, account, city) -> Response:
    c.session.log_in(kind, account.id, city.id if city else None, city.slug if city else None,
                     account.session_generation)
    target = c.safe_next(c.form.get("next"), home_of(c))
    if kind == "staff" and city is not None and not target.startswith(f"/console/c/{city.slug}/"):
        target = home_of(c)
    return c.redirect(target)


async def _login(c: Console, city) -> Response:
    username, password = c.form.get("username", ""), c.form.get("password", "")
    try:
        if city is None:
            outcome = await authenticate_vendor(c.rt.db, username, password, ip=c.ip)
        else:
            with use_city(city):
                outcome = await authenticate_staff(c.rt.db, username, password, ip=c.ip)
    except DomainError as exc:
        return await _login_form(c, status=exc.status, error=c.refusal(exc), username=username,
                                 city_slug=city.slug if city else "")
    kind = "vendor" if city is None else "staff"
    if outcome.needs_totp:
        c.session.set_pending(kind=kind, id=outcome.account.id, city_id=city.id if city else None,
                              city_slug=city.slug if city else None, next=c.form.get("next", ""))
        return c.redirect("/console/login/totp")
    return _finish_login(c, kind, outcome.account, city)


@console_page(anonymous=True)
async def login(c: Console) -> Response:
    """``/console/login``: the vendor (no city) or staff naming their city."""
    if c.principal is not None and c.request.method == "GET":
        return c.redirect(home_of(c))
    if c.request.method == "GET":
        return await _login_form(c)
    slug = c.form.get("city", "").strip().lower()
    city = None
    if slug:
        city = await c.rt.resolver.by_slug(slug) if len(slug) <= 40 else None
        if city is None:
            return await _login_form(c, status=404, error=c._("There is no city platform with this code."),
                                     username=c.form.get("username", ""), city_slug=slug)
    return await _login(c, city)


@console_page(anonymous=True)
async def city_login(c: Console) -> Response:
    """``/console/c/{city}/login``: staff of this city (and the SSO button if configured)."""
    if c.principal is not None and c.request.method == "GET":
        return c.redirect(home_of(c) if c.principal.kind == "staff" else c.url(""))
    if c.request.method == "GET":
        return await _login_form(c, city_slug=c.city.slug)
    return await _login(c, c.city)


@console_page(anonymous=True)
async def totp_step(c: Console) -> Response:
    """The second step: a six-digit code from the authenticator app."""
    pending = c.session.peek_pending()
    if not pending or pending.get("kind") not in ("staff", "vendor"):
        return c.redirect("/console/login", flash=c._("Please log in again."))
    if c.request.method == "GET":
        return c.render("login_totp.html")
    city = None
    if pending["kind"] == "staff":
        city = await c.rt.resolver.by_slug(pending.get("city_slug") or "")
        if city is None or city.id != pending.get("city_id"):
            c.session.take_pending()
            return c.redirect("/console/login")
    model = StaffAccount if pending["kind"] == "staff" else VendorAccount
    try:
        if city is not None:
            with use_city(city):
                account = await second_factor(c.rt.db, model, pending["id"], c.form.get("code", ""), ip=c.ip)
        else:
            account = await second_factor(c.rt.db, model, pending["id"], c.form.get("code", ""), ip=c.ip)
    except DomainError as exc:
        if exc.code != "totp_failed":
            c.session.take_pending()
        return c.render("login_totp.html", status=exc.status, error=c.refusal(exc))
    c.form["next"] = pending.get("next", "")
    return _finish_login(c, pending["kind"], account, city)


@console_page(anonymous=True)
async def logout(c: Console) -> Response:
    """POST only (CSRF-checked): ends the session, and the account's other sessions with it (the
    account's session generation goes up, so copies of the cookie stop working too)."""
    back = f"/console/c/{c.session.city_slug}/login" if c.session.kind == "staff" and c.session.city_slug else "/console/login"
    if c.principal is not None:
        async with c.transaction() as s:
            await log_out(s, VendorAccount if c.principal.is_vendor else StaffAccount, c.principal.id)
    c.session.log_out()
    return c.redirect(back, flash=c._("You have logged out."))


@console_page(anonymous=True)
async def language(c: Console) -> Response:
    """POST ``lang``: switch between 中文 and English, back to where the person was."""
    lang = pick(c.form.get("lang"))
    response = c.redirect(c.safe_next(c.form.get("next"), "/console/"))
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, path=PATH, httponly=True, samesite="strict")
    return response


@console_page(anonymous=True)
async def root(c: Console) -> Response:
    """``/console/``: home of the logged-in principal, else the log-in page."""
    if c.principal is None:
        return c.redirect("/console/login")
    return c.redirect(home_of(c))


def routes() -> list:
    return [
        Route("/", root, methods=["GET"]),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/login/totp", totp_step, methods=["GET", "POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/lang", language, methods=["POST"]),
        Route("/c/{city}/login", city_login, methods=["GET", "POST"]),
    ]
