"""The call-centre agent's pages: find a caller, check identity, book, move and cancel for them."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from guahao.core.audit import Actor
from guahao.core.backoffice import changes
from guahao.core.booking import service
from guahao.core.models import AuditEntry, Booking, BookingEvent
from guahao.tenants.context import use_city
from tests.core.backoffice.conftest import register_member
from tests.core.booking.helpers import reserve
from tests.factories import make_city

from .conftest import add_staff


async def _bookings(rt, city, member_id) -> list[Booking]:
    with use_city(city):
        async with rt.db.transaction() as s:
            return list(
                (
                    await s.scalars(select(Booking).where(Booking.member_id == member_id).order_by(Booking.created_at))
                ).all()
            )


async def _audit(rt, city, action) -> list[AuditEntry]:
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))).all())


async def _verified(browser, city, member_id, name, number) -> str:
    """Pass the identity check; the caller token."""
    r = await browser.post(f"/console/c/{city.slug}/agent/verify",
                           {"member_id": str(member_id), "name": name, "id_last4": number[-4:]})
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert urlsplit(location).path == f"/console/c/{city.slug}/agent/caller"
    return parse_qs(urlsplit(location).query)["t"][0]


async def _search(browser, base: str, query: str):
    """Search by POST, follow the redirect to the result: neither URL holds the number."""
    r = await browser.post(f"{base}/agent", {"q": query})
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    assert query not in location and urlsplit(location).path == f"{base}/agent"
    return await browser.get(location)


async def test_the_search_never_puts_a_phone_or_id_number_in_a_url(rt, city, browser, new_browser):
    member_id, number, phone = await register_member(rt, city, name="周八")
    agent = await add_staff(rt, city, "agent")
    await browser.login(agent)
    base = f"/console/c/{city.slug}"

    form = await browser.get(f"{base}/agent")
    assert 'id="caller-search"' in form.text and 'method="post"' in form.text.split('id="caller-search"')[0][-80:]
    ignored = await browser.get(f"{base}/agent", params={"q": phone})  # an old link: nothing is looked up
    assert ignored.status_code == 303 and ignored.headers["location"] == f"{base}/agent"
    for query in (phone, number):
        found = await _search(browser, base, query)
        assert 'id="verify-form"' in found.text and query not in found.text
        assert f'name="member_id" value="{member_id}"' in found.text
        assert 'name="q"' not in found.text.split('id="verify-form"')[1]  # not carried on in the verify form
    refused = await browser.post(f"{base}/agent", {"q": phone}, csrf="wrong")
    assert refused.status_code == 403 and 'id="verify-form"' not in refused.text

    # The result page's address is this agent's only, and only for a while.
    result = (await browser.post(f"{base}/agent", {"q": phone})).headers["location"]
    other = new_browser()
    await other.login(await add_staff(rt, city, "agent"))
    stolen = await other.get(result)
    assert 'id="verify-form"' not in stolen.text and 'id="lookup-error"' in stolen.text


async def test_find_verify_book_move_and_cancel_for_a_caller(rt, city, catalogue, browser):
    member_id, number, phone = await register_member(rt, city, name="李秀兰")
    agent = await add_staff(rt, city, "agent")
    await browser.login(agent)
    base = f"/console/c/{city.slug}"

    home = await browser.get(f"{base}/")
    assert 'id="nav-agent"' in home.text
    found = await _search(browser, base, phone)
    assert found.status_code == 200 and 'id="verify-form"' in found.text
    assert "李**" in found.text and "李秀兰" not in found.text and number not in found.text
    nobody = await browser.post(f"{base}/agent", {"q": "13900000000"})
    assert nobody.status_code == 404
    assert 'id="lookup-error"' in nobody.text and 'id="verify-form"' not in nobody.text

    wrong = await browser.post(f"{base}/agent/verify", {"member_id": str(member_id), "name": "李秀兰", "id_last4": "0000"})
    assert wrong.status_code == 403 and "agent/caller" not in wrong.text
    token = await _verified(browser, city, member_id, "李秀兰", number)
    assert [e.after["passed"] for e in await _audit(rt, city, "agent.identity_check")] == [False, True]

    page = await browser.get(f"{base}/agent/caller", params={"t": token})
    assert page.status_code == 200 and 'id="caller-profile"' in page.text and "李**" in page.text

    cs = catalogue.sessions[0]
    picker = await browser.get(f"{base}/agent/book", params={
        "t": token, "hospital_id": catalogue.hospital.id, "department_id": catalogue.department.id})
    assert picker.status_code == 200
    period = catalogue.periods[cs.id][0]
    assert f'id="period-{period.id}"' in picker.text

    refused = await browser.post(f"{base}/agent/book", {"t": token, "period_id": str(period.id), "recording_ref": " ",
                                                         "hospital_id": str(catalogue.hospital.id),
                                                         "department_id": str(catalogue.department.id)})
    assert refused.status_code == 422 and "录音编号" in refused.text and 'id="book-form"' in refused.text
    assert await _bookings(rt, city, member_id) == []

    r = await browser.post(f"{base}/agent/book", {"t": token, "period_id": str(period.id), "recording_ref": "REC-1"})
    assert r.status_code == 303
    [made] = await _bookings(rt, city, member_id)
    assert (made.channel, made.created_by, made.status) == ("phone", f"agent:{agent.id}", "confirmed")
    page = await browser.get(r.headers["location"])
    assert f'id="booking-{made.id}"' in page.text and made.id in page.text

    # the same period again: the engine's refusal as a sentence, nothing booked
    again = await browser.post(f"{base}/agent/book", {"t": token, "period_id": str(period.id), "recording_ref": "REC-1"})
    assert again.status_code == 409 and 'id="booking-error"' in again.text and "同一出诊" in again.text
    assert "该患者已有本次出诊的有效预约" in again.text and "我的预约" not in again.text

    target = catalogue.periods[catalogue.sessions[2].id][1]
    move_page = await browser.get(f"{base}/agent/book", params={"t": token, "booking_id": made.id})
    assert 'id="moving"' in move_page.text and f'id="period-{target.id}"' in move_page.text
    r = await browser.post(f"{base}/agent/book", {"t": token, "booking_id": made.id, "period_id": str(target.id),
                                                  "recording_ref": "REC-2"})
    assert r.status_code == 303
    old, new = await _bookings(rt, city, member_id)
    assert (old.status, new.status, new.period_id) == ("cancelled", "confirmed", target.id)

    no_ref = await browser.post(f"{base}/agent/cancel", {"t": token, "booking_id": new.id, "recording_ref": ""})
    assert no_ref.status_code == 422 and 'id="action-error"' in no_ref.text
    r = await browser.post(f"{base}/agent/cancel", {"t": token, "booking_id": new.id, "recording_ref": "REC-3",
                                                    "reason": "来电取消"})
    assert r.status_code == 303
    assert [b.status for b in await _bookings(rt, city, member_id)] == ["cancelled", "cancelled"]
    page = (await browser.get(f"{base}/agent/caller", params={"t": token})).text
    assert _reason_of(page, old.id) == "患者来电改约" and _reason_of(page, new.id) == "患者来电取消"
    with use_city(city):
        async with rt.db.transaction() as s:
            refs = [e.data["recording_ref"] for e in (await s.scalars(
                select(BookingEvent).where(BookingEvent.kind == "agent_call").order_by(BookingEvent.id))).all()]
    assert refs == ["REC-1", "REC-2", "REC-2", "REC-3"]
    assert len(await _audit(rt, city, "agent.book")) == 1 and len(await _audit(rt, city, "agent.move")) == 1


async def test_caller_pages_need_this_agents_identity_check(rt, city, catalogue, browser, new_browser):
    member_id, number, _ = await register_member(rt, city, name="王五")
    agent, other = await add_staff(rt, city, "agent"), await add_staff(rt, city, "agent")
    await browser.login(agent)
    base = f"/console/c/{city.slug}"

    for url in (f"{base}/agent/caller", f"{base}/agent/caller?member_id={member_id}", f"{base}/agent/caller?t=forged.token",
                f"{base}/agent/book?t=x"):
        r = await browser.get(url)
        assert r.status_code == 403 and 'data-code="identity_check_required"' in r.text
    r = await browser.post(f"{base}/agent/book", {"member_id": str(member_id), "period_id": "1", "recording_ref": "R"})
    assert r.status_code == 403

    token = await _verified(browser, city, member_id, "王五", number)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (await browser.get(f"{base}/agent/caller", params={"t": tampered})).status_code == 403

    second = new_browser()
    await second.login(other)
    assert (await second.get(f"{base}/agent/caller", params={"t": token})).status_code == 403
    assert (await browser.get(f"{base}/agent/caller", params={"t": token})).status_code == 200

    # roles without agent.assist: 403
    clerk = await add_staff(rt, city, "scheduler", hospital_id=catalogue.hospital.id)
    third = new_browser()
    await third.login(clerk)
    assert (await third.get(f"{base}/agent")).status_code == 403


async def test_another_citys_member_is_not_found_and_csrf_is_checked(rt, city, browser):
    other_city = await make_city(rt, f"{city.slug}-b")
    stranger, number, phone = await register_member(rt, other_city, name="赵六")
    agent = await add_staff(rt, city, "agent")
    await browser.login(agent)
    base = f"/console/c/{city.slug}"

    found = await browser.post(f"{base}/agent", {"q": phone})
    assert found.status_code == 404 and 'id="verify-form"' not in found.text
    r = await browser.post(f"{base}/agent/verify", {"member_id": str(stranger), "name": "赵六", "id_last4": number[-4:]})
    assert r.status_code == 404
    assert await _audit(rt, city, "agent.identity_check") == []

    own, own_number, _ = await register_member(rt, city, name="钱七")
    r = await browser.post(f"{base}/agent/verify", {"member_id": str(own), "name": "钱七", "id_last4": own_number[-4:]},
                           csrf="wrong")
    assert r.status_code == 403 and 'data-code="csrf"' in r.text
    assert await _audit(rt, city, "agent.identity_check") == []
    assert re.search(r"agent/caller\?t=", r.text) is None


def _reason_of(page: str, booking_id: str) -> str:
    found = re.search(rf'id="reason-{booking_id}">([^<]*)<', page)
    assert found, f"no reason shown for {booking_id}"
    return found.group(1)


async def test_the_agent_reads_reasons_and_refusals_in_words_for_staff(rt, city, catalogue, browser):
    member_id, number, _ = await register_member(rt, city, name="周八")
    agent = await add_staff(rt, city, "agent")
    scheduler = Actor("staff", 7, name="排班员小李", role="hospital_scheduler")
    await browser.login(agent)
    base = f"/console/c/{city.slug}"
    first, second, third, fourth = (catalogue.periods[catalogue.sessions[i].id][0] for i in range(4))
    own = await reserve(rt, city, member_id, first.id)
    with use_city(city):
        await service.cancel_booking(rt, member_id=member_id, booking_id=own.id, reason="member")
    stopped = await reserve(rt, city, member_id, second.id)
    with use_city(city):
        await changes.suspend(rt, catalogue.sessions[1].id, reason="医生临时外出会诊", actor=scheduler)

    token = await _verified(browser, city, member_id, "周八", number)
    page = (await browser.get(f"{base}/agent/caller", params={"t": token})).text
    assert _reason_of(page, own.id) == "患者本人取消" and _reason_of(page, stopped.id) == "医院停诊"
    assert "session_suspended" not in page and ">member<" not in page and "已取消" in page

    # the city's limit of active bookings: the agent is told about the patient, not "我的预约"
    for period in (third, catalogue.periods[catalogue.sessions[0].id][1]):
        r = await browser.post(f"{base}/agent/book", {"t": token, "period_id": str(period.id), "recording_ref": "REC-9"})
        assert r.status_code == 303, r.text
    over = {"t": token, "period_id": str(fourth.id), "recording_ref": "REC-9"}
    refused = await browser.post(f"{base}/agent/book", over)
    assert refused.status_code == 409 and 'id="booking-error"' in refused.text
    assert "该患者已有 2 个有效预约，已达上限 2 个" in refused.text and "我的预约" not in refused.text
    browser.client.cookies.set("guahao_console_lang", "en")
    refused = await browser.post(f"{base}/agent/book", over)
    assert "The patient already has 2 active bookings" in refused.text
    page = (await browser.get(f"{base}/agent/caller", params={"t": token})).text
    assert _reason_of(page, own.id) == "Cancelled by the patient"
    assert _reason_of(page, stopped.id) == "Session suspended by the hospital"
