"""The agent desk opens the caller a phone call was handed over with: ``agent?call=REF``."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from guahao.core.models import AuditEntry
from guahao.tenants.context import use_city
from tests.console.conftest import add_staff, browser, cheap_password_hashing  # noqa: F401  (fixtures)
from tests.core.plugins.probes import make_member

from .test_calls import book_by_phone


async def test_the_agent_page_shows_the_caller_of_a_handed_over_call(phone_city, browser):  # noqa: F811
    member = await make_member(phone_city.rt, phone_city.city, name="赵六")
    caller, _ = await book_by_phone(phone_city, member)
    await caller.press("1")  # book
    await caller.press("0")  # to an agent
    [call] = await phone_city.calls()
    agent = await add_staff(phone_city.rt, phone_city.city, "agent")
    await browser.login(agent)
    base = f"/console/c/{phone_city.city.slug}"
    desk = await browser.get(f"{base}/agent")
    assert 'id="call-lookup"' in desk.text and "通话编号" in desk.text  # where the agent types the number heard
    opened = await browser.get(f"{base}/agent?call={call.ref}")
    assert opened.status_code == 303, opened.text
    location = opened.headers["location"]
    assert urlsplit(location).path == f"{base}/agent/caller" and parse_qs(urlsplit(location).query)["call"] == [call.ref]
    page = await browser.get(location)
    assert page.status_code == 200 and 'id="caller-name">赵*<' in page.text  # the name as the desk masks it
    assert f'id="phone-call">电话语音菜单转接的通话 {call.ref}' in page.text
    assert call.booking_id in page.text  # the booking made in the call is among the caller's bookings
    with use_city(phone_city.city):
        async with phone_city.rt.db.transaction() as s:
            [entry] = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "agent.identity_check"))).all()
    assert call.ref in entry.summary and entry.target_id == str(member.id)


async def test_an_unknown_or_unidentified_call_reference_opens_nobody(phone_city, browser):  # noqa: F811
    member = await make_member(phone_city.rt, phone_city.city)
    caller = phone_city.caller("+8613900000000")  # not a member's number
    await caller.dial()
    await caller.press("0")
    [call] = await phone_city.calls()
    assert call.status == "agent" and call.member_id is None
    agent = await add_staff(phone_city.rt, phone_city.city, "agent")
    await browser.login(agent)
    base = f"/console/c/{phone_city.city.slug}"
    for ref in (call.ref, "12345678", "abc"):
        page = await browser.get(f"{base}/agent?call={ref}")
        assert page.status_code == 404 and 'id="lookup-error"' in page.text and member.name not in page.text
