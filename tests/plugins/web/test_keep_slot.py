"""A visitor who chooses a slot before logging in keeps it: the log-in page says why it is
needed and which slot waits, registration and both ways of logging in lead back to that slot,
and nothing but a page of this city's site is accepted as the place to go back to."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from guahao.core.members.ids import check_digit

from .conftest import PHONE, csrf_of, id_number

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
REASON = {"zh-CN": "预约挂号需要先登录，登录后将回到您选择的号源",
          "en": "Log in to book: you will come back to the time you chose."}
REGISTER_REASON = {"zh-CN": "预约挂号需要先注册，注册后将回到您选择的号源",
                   "en": "Register to book: once registered you will come back to the time you chose."}


def href(page: str, link_id: str) -> str:
    match = re.search(rf'id="{link_id}" href="([^"]+)"', page)
    assert match, f"no link #{link_id}"
    return html.unescape(match.group(1))


def form_of(page: str, action: str) -> str:
    """The page's form posting to ``action`` (the header's language form has a ``next`` too)."""
    match = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert match, f"no form posting to {action}"
    return match.group(0)


def hidden(form: str) -> dict[str, str]:
    return {name: html.unescape(value) for name, value in HIDDEN.findall(form)}


def local(location: str) -> str:
    """The path (and query) of a redirect, whatever its host."""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def submit(visitor, url: str, fields: dict):
    """Open the page at ``url`` and post its form with the form's hidden fields (CSRF, next, why)."""
    page = await visitor.client.get(url)
    assert page.status_code == 200
    action = urlsplit(url).path
    return await visitor.client.post(action, data={**hidden(form_of(page.text, action)), **fields})


async def choose_slot(visitor, site_city) -> tuple[object, str]:
    """An anonymous visitor clicks a slot: sent to log in, with where to come back and why."""
    period = site_city.periods[site_city.sessions[4].id][0]
    slot = visitor.root + f"book/{period.id}"
    r = await visitor.client.get(slot)
    assert r.status_code == 303
    login = local(r.headers["location"])
    assert login.startswith(visitor.root + "login?")
    assert parse_qs(urlsplit(login).query) == {"next": [slot], "why": ["book"]}
    return period, login


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_register_from_a_slot_comes_back_to_it_and_books(visitor, site_city, lang):
    if lang == "en":
        await visitor.set_language("en")
    period, login = await choose_slot(visitor, site_city)
    slot = visitor.root + f"book/{period.id}"

    page = await visitor.client.get(login)
    assert page.status_code == 200
    reason = re.search(r'id="login-reason".*?</div>', page.text, re.S).group(0)
    assert REASON[lang] in reason
    assert site_city.doctor.name in reason and "08:00" in reason  # the slot that waits
    assert hidden(form_of(page.text, visitor.root + "login"))["next"] == slot
    register = href(page.text, "register-link")
    assert parse_qs(urlsplit(register).query) == {"next": [slot], "why": ["book"]}
    code_login = href(page.text, "login-code")
    assert parse_qs(urlsplit(code_login).query) == {"next": [slot], "why": ["book"]}

    form = await visitor.client.get(register)
    assert REGISTER_REASON[lang] in form.text and site_city.doctor.name in form.text
    assert parse_qs(urlsplit(href(form.text, "login-link")).query)["next"] == [slot]
    r = await submit(visitor, register, {"name": "张三", "id_number": id_number(), "phone": PHONE,
                                         "password": "secret123"})
    assert r.status_code == 303 and local(r.headers["location"]) == slot

    confirm = await visitor.client.get(slot)
    assert confirm.status_code == 200 and 'id="confirm"' in confirm.text
    booked = await visitor.book(period.id)
    assert booked.status_code == 303 and "/bookings/" in booked.headers["location"]


async def test_log_in_from_a_slot_comes_back_to_it(visitor, site_city):
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    period, login = await choose_slot(visitor, site_city)
    r = await submit(visitor, login, {"login": PHONE, "password": "secret123"})
    assert r.status_code == 303 and local(r.headers["location"]) == visitor.root + f"book/{period.id}"
    assert (await visitor.book(period.id)).status_code == 303


async def test_wrong_password_keeps_the_slot(visitor, site_city):
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    period, login = await choose_slot(visitor, site_city)
    wrong = await submit(visitor, login, {"login": PHONE, "password": "wrong-pass1"})
    assert wrong.status_code == 401 and "预约挂号需要先登录" in wrong.text
    assert hidden(form_of(wrong.text, visitor.root + "login"))["next"] == visitor.root + f"book/{period.id}"
    assert "next=" in href(wrong.text, "register-link")


async def test_text_code_log_in_keeps_the_slot(visitor, site_city):
    period, login = await choose_slot(visitor, site_city)
    page = await visitor.client.get(login)
    code_page = await visitor.client.get(href(page.text, "login-code"))
    code_form = hidden(form_of(code_page.text, visitor.root + "login/code"))
    assert code_form["next"] == visitor.root + f"book/{period.id}" and code_form["why"] == "book"
    back = href(code_page.text, "login-password")
    assert parse_qs(urlsplit(back).query) == {"next": [visitor.root + f"book/{period.id}"], "why": ["book"]}


async def test_text_code_log_in_comes_back_to_the_slot(visitor, site_city, rt, city):
    from .test_otp import _deliver_code

    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    period, login = await choose_slot(visitor, site_city)
    code_url = href((await visitor.client.get(login)).text, "login-code")
    sent = await submit(visitor, code_url, {"phone": PHONE, "action": "send"})
    assert sent.status_code == 200 and hidden(form_of(sent.text, visitor.root + "login/code"))["next"]
    code = await _deliver_code(rt, city)
    form = hidden(form_of(sent.text, visitor.root + "login/code"))
    r = await visitor.client.post(visitor.root + "login/code", data={**form, "phone": PHONE, "action": "verify",
                                                                     "code": code})
    assert r.status_code == 303 and local(r.headers["location"]) == visitor.root + f"book/{period.id}"


async def test_other_member_pages_say_why_too(visitor):
    r = await visitor.get("bookings?scope=past")
    login = local(r.headers["location"])
    assert parse_qs(urlsplit(login).query) == {"next": [visitor.root + "bookings?scope=past"], "why": ["member"]}
    page = await visitor.client.get(login)
    assert "请先登录再查看此页面" in page.text and 'id="chosen-slot"' not in page.text


EVIL = ["https://evil.example/", "//evil.example/", "/c/other-city/book/1", "\\\\evil.example", "/\\evil.example",
        "{root}../other-city/", "{root}%2e%2e/other-city/", "{root}\\evil", "{root}/evil.example",
        "javascript:alert(1)", "{root}book/1\r\nSet-Cookie: x=1"]


@pytest.mark.parametrize("target", EVIL)
async def test_no_open_redirect_after_log_in_or_registration(visitor, target):
    target = target.format(root=visitor.root)
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    page = await visitor.get("login")
    logged = await visitor.client.post(visitor.root + "login", data={
        "csrf": csrf_of(page.text), "login": PHONE, "password": "secret123", "next": target})
    assert logged.status_code == 303 and local(logged.headers["location"]) == visitor.root
    await visitor.post("logout", {}, form_page="")

    other = "11010519851111002" + check_digit("11010519851111002")
    form = await visitor.get("register")
    registered = await visitor.client.post(visitor.root + "register", data={
        "csrf": csrf_of(form.text), "name": "李四", "id_number": other, "phone": "13900139000",
        "password": "secret123", "next": target})
    assert registered.status_code == 303
    assert local(registered.headers["location"]) == visitor.root + "?welcome=1"


@pytest.mark.parametrize("target", EVIL)
async def test_log_in_page_never_links_elsewhere(visitor, target):
    page = await visitor.client.get(visitor.root + "login", params={"next": target.format(root=visitor.root)})
    assert page.status_code == 200 and hidden(form_of(page.text, visitor.root + "login"))["next"] == visitor.root
    assert href(page.text, "register-link") == visitor.root + "register"


async def test_registration_shows_every_field_error_at_once(visitor):
    r = await visitor.post("register", {"name": "张", "id_number": "110105199003070030", "phone": "12345",
                                        "password": "short"})
    assert r.status_code == 422
    for field in ("name", "id_number", "phone", "password"):
        assert f'id="{field}-error"' in r.text and f'id="{field}" name="{field}"' in r.text
    summary = re.search(r'id="error-summary".*?</div>', r.text, re.S).group(0)
    assert summary.count("<li>") == 4 and 'href="#phone"' in summary
    assert 'value="张"' in r.text and 'value="12345"' in r.text and 'value="110105199003070030"' in r.text
    assert "short" not in r.text  # never the password


async def test_registration_with_one_bad_field_names_only_that_one(visitor):
    r = await visitor.register(phone="12345")
    assert r.status_code == 422
    assert 'id="phone-error"' in r.text
    assert not any(f'id="{f}-error"' in r.text for f in ("name", "id_number", "password"))
