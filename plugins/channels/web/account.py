"""Register, log in, log out, credit status and display preferences."""

from __future__ import annotations

import re

from starlette.responses import Response

from guahao.core.booking.service import credit
from guahao.core.errors import DomainError
from guahao.core.members import service
from guahao.core.members import sessions as member_sessions
from guahao.core.members.ids import validate_id_number
from guahao.core.web.session import is_https

from . import session as sessions
from .booking import period_facts
from .i18n import LANGUAGES
from .site import LANG_COOKIE, REASONS, REGISTER_REASONS, Page, retry_after

REGISTER_FIELDS = ("name", "id_number", "phone")
# Which form field a refusal belongs to, when the error does not say.
FIELD_OF = {"invalid_name": "name", "invalid_id_number": "id_number", "invalid_phone": "phone", "weak_password": "password"}
SLOT_PATH = re.compile(r"book/(\d{1,12})")


def _field(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    return details.get("field") or FIELD_OF.get(exc.code, "")


def _check_fields(p: Page, values: dict[str, str], password: str) -> dict[str, str]:
    """Every field's refusal at once (the service stops at the first), keyed by field."""
    errors = {}
    checks = (("name", service.validate_name, values["name"]), ("id_number", validate_id_number, values["id_number"]),
              ("password", service.validate_password, password))
    for field, check, value in checks:
        try:
            check(value)
        except DomainError as exc:
            errors[field] = p.refusal(exc)
    if service.normalize_phone(values["phone"]) is None:
        errors["phone"] = p.refusal(DomainError("invalid_phone", "手机号码应为11位中国大陆手机号", status=422))
    return {field: errors[field] for field in (*REGISTER_FIELDS, "password") if field in errors}


async def _slot(p: Page, next_url: str) -> dict | None:
    """The slot a visitor chose before being asked to log in (``next`` is its confirm page)."""
    match = SLOT_PATH.fullmatch(next_url[len(p.root):])
    if match is None:
        return None
    try:
        return await period_facts(p, int(match.group(1)))
    except DomainError:
        return None


async def _form(p: Page, name: str, status: int = 200, **context) -> Response:
    """The log-in or registration page, keeping where to go afterwards and saying why."""
    next_url, why = p.next_url(), p.reason()
    slot = await _slot(p, next_url)
    if slot is not None and why is None:
        why = "book"
    links = {path: p.login_link(path, next_url, why) for path in ("login", "register", "login/code")}
    reasons = REGISTER_REASONS if name == "register.html" else REASONS
    return p.render(name, status=status, next=next_url, why=why, reason=reasons.get(why or ""), slot=slot,
                    links=links, **context)


async def register(p: Page) -> Response:
    if p.request.method == "GET":
        return await _form(p, "register.html", values={}, errors={})
    values = {k: p.form.get(k, "").strip() for k in REGISTER_FIELDS}
    password = p.form.get("password", "")
    errors = _check_fields(p, values, password)
    refused: DomainError | None = None
    if not errors:
        try:
            await p.rate_limit("register_ip", "register_device")
            async with p.rt.db.transaction() as s:
                ids = p.limit_ids()
                member = await service.register(s, password=password, ip=str(ids["ip"] or ""),
                                                device=str(ids["device"] or ""), **values)
                member_id = member.id
        except DomainError as exc:
            refused, errors = exc, {_field(exc) or "form": p.refusal(exc)}
    if errors:
        status = 429 if refused is not None and refused.status == 429 else 422
        return retry_after(await _form(p, "register.html", status=status, values=values, errors=errors), refused)
    p.session.log_in(member_id)
    next_url = p.next_url()
    return p.redirect(next_url if next_url != p.root else "?welcome=1")


async def login(p: Page) -> Response:
    if p.request.method == "GET":
        return await _form(p, "login.html", values={}, error=None)
    login_name = p.form.get("login", "").strip()
    try:
        await p.rate_limit("login_ip")
        member = await service.login(p.rt.db, login=login_name, password=p.form.get("password", ""),
                                     throttle=p.site.login_throttle(p.rt),
                                     ip=p.request.client.host if p.request.client else "")
    except DomainError as exc:
        status = 429 if exc.status == 429 else 401 if exc.code == "invalid_credentials" else 422
        page = await _form(p, "login.html", status=status, values={"login": login_name}, error=p.refusal(exc))
        return retry_after(page, exc)
    p.session.log_in(member.id, member.session_generation)
    return p.redirect(p.next_url())


async def end_member_sessions(p: Page) -> None:
    """Log-out ends every session of the member: this cookie, its copies, other devices and
    API tokens (the member's session generation goes up)."""
    if p.member is not None:
        async with p.rt.db.transaction() as s:
            await member_sessions.end_sessions(s, p.member.id)


async def logout(p: Page) -> Response:
    await end_member_sessions(p)
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
