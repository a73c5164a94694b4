"""Register, log in, log out, credit status and display preferences."""

from __future__ import annotations

from starlette.responses import Response

from guahao.core.booking.service import credit
from guahao.core.errors import DomainError
from guahao.core.members import service
from guahao.core.web.session import is_https

from . import session as sessions
from .i18n import LANGUAGES
from .site import LANG_COOKIE, Page

REGISTER_FIELDS = ("name", "id_number", "phone")
# Which form field a refusal belongs to, when the error does not say.
FIELD_OF = {"invalid_name": "name", "invalid_id_number": "id_number", "invalid_phone": "phone", "weak_password": "password"}


def _field(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    return details.get("field") or FIELD_OF.get(exc.code, "")


async def register(p: Page) -> Response:
    if p.request.method == "GET":
        return p.render("register.html", values={}, errors={})
    values = {k: p.form.get(k, "").strip() for k in REGISTER_FIELDS}
    try:
        async with p.rt.db.transaction() as s:
            member = await service.register(s, password=p.form.get("password", ""), **values)
            member_id = member.id
    except DomainError as exc:
        errors = {_field(exc) or "form": p.refusal(exc)}
        return p.render("register.html", status=422, values=values, errors=errors)
    p.session.log_in(member_id)
    return p.redirect("?welcome=1")


async def login(p: Page) -> Response:
    next_url = p.safe_next(p.form.get("next") or p.request.query_params.get("next"))
    if p.request.method == "GET":
        return p.render("login.html", values={}, error=None, next=next_url)
    login_name = p.form.get("login", "").strip()
    try:
        member = await service.login(p.rt.db, login=login_name, password=p.form.get("password", ""),
                                     throttle=p.site.login_throttle(p.rt),
                                     ip=p.request.client.host if p.request.client else "")
    except DomainError as exc:
        status = 429 if exc.code == "too_many_attempts" else 401 if exc.code == "invalid_credentials" else 422
        return p.render("login.html", status=status, values={"login": login_name}, error=p.refusal(exc),
                        next=next_url)
    p.session.log_in(member.id)
    return p.redirect(next_url)


async def logout(p: Page) -> Response:
    p.session.log_out()
    return p.redirect("")


async def credit_page(p: Page) -> Response:
    status = await credit(p.rt, member_id=p.member.id)
    until = status.get("suspended_until")
    if until:
        from datetime import datetime

        until = datetime.fromisoformat(until.replace("Z", "+00:00")).astimezone(p.city.tz).strftime("%Y-%m-%d %H:%M")
    return p.render("credit.html", credit=status, until=until)


async def preferences(p: Page) -> Response:
    """Language, larger text and high contrast; stored in cookies, then back to the page."""
    response = p.redirect(p.safe_next(p.form.get("next")))
    lang = p.form.get("lang")
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=sessions.PREFS_MAX_AGE, path=p.root, httponly=True,
                            samesite="lax", secure=is_https(p.request))
    toggle = p.form.get("toggle")
    if toggle in sessions.PREFS:
        prefs = set(p.prefs) ^ {toggle}
        sessions.save_prefs(response, p.request, prefs, p.root)
    return response
