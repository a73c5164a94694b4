"""The place of a visit is the session's campus, stated the same everywhere: the doctor page,
the confirmation page, the booking page, the kiosk receipt, the agent's view of the caller,
the message texts (SMS and WeChat), and the API's booking view and availability items. The
hospital's own (main) address is never given as the place of a visit at another campus."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from guahao.core.catalogue.places import place_label, visit_place
from guahao.core.jobs import drain_in_process
from guahao.core.members.tokens import issue
from guahao.core.models import Booking, Member, Notification
from guahao.core.notifications import compose, load_facts, message_params
from guahao.tenants.context import use_city
from tests.console.conftest import Browser, add_staff
from tests.factories import make_catalogue

from .conftest import bound_kiosk, id_number

MAIN_ADDRESS = "东城区和平路 1 号"
SOUTH = ("南院区", "南山区滨河大道 210 号")
LABEL = "南院区 · 南山区滨河大道 210 号"


@pytest.fixture
async def catalogue(rt, city):
    """The hospital at 东城区和平路 1 号, its second doctor working at the south campus."""
    return await make_catalogue(rt, city, address=MAIN_ADDRESS, second_campus=SOUTH)


def south_period(catalogue):
    """The first period of the second doctor's last session (at the south campus)."""
    cs = [c for c in catalogue.sessions if c.doctor_id == catalogue.doctor2.id][-1]
    assert cs.campus_id == catalogue.campus2.id
    return catalogue.periods[cs.id][0]


def states_the_south_campus(text: str) -> None:
    assert LABEL in text
    assert MAIN_ADDRESS not in text


def test_the_label_is_name_and_address():
    assert place_label(visit_place(2, *SOUTH, "第一人民医院", MAIN_ADDRESS)) == LABEL
    assert place_label(visit_place(1, "本部", "", "第一人民医院", MAIN_ADDRESS)) == "本部"
    assert place_label(None) == ""


def test_the_hospital_stands_in_only_for_a_session_without_a_campus():
    assert visit_place(None, None, None, "第一人民医院", MAIN_ADDRESS) == {
        "id": None, "name": "第一人民医院", "address": MAIN_ADDRESS}
    assert visit_place(2, *SOUTH, "第一人民医院", MAIN_ADDRESS) == {"id": 2, "name": SOUTH[0], "address": SOUTH[1]}


async def test_every_surface_states_the_sessions_campus(rt, city, app, client, visitor, site_city):
    catalogue = site_city
    period = south_period(catalogue)
    expected = {"id": catalogue.campus2.id, "name": SOUTH[0], "address": SOUTH[1]}
    await visitor.register()

    # The doctor page names the campus of each session (the hospital has two).
    doctor_page = await visitor.get(f"doctors/{catalogue.doctor2.id}")
    assert doctor_page.status_code == 200
    states_the_south_campus(doctor_page.text)
    assert f'id="session-{period.session_id}-place">{LABEL}<' in doctor_page.text
    main_doctor = await visitor.get(f"doctors/{catalogue.doctor.id}")
    assert 'class="campus"' in main_doctor.text and "本部" in main_doctor.text and SOUTH[0] not in main_doctor.text

    # The slot choice (confirmation page) and the booking page.
    confirm = await visitor.get(f"book/{period.id}")
    states_the_south_campus(confirm.text)
    assert f'id="confirm-place">{LABEL}<' in confirm.text
    booked = await visitor.book(period.id)
    assert booked.status_code == 303, booked.text
    ref = urlsplit(booked.headers["location"]).path.rsplit("/", 1)[-1]
    detail = await visitor.get(f"bookings/{ref}")
    states_the_south_campus(detail.text)
    assert f'id="booking-place">{LABEL}<' in detail.text
    mine = await visitor.get("bookings")  # "my bookings" names it too
    assert f'id="place-{ref}">' in mine.text and LABEL in mine.text and "和平路" not in mine.text

    # The kiosk receipt.
    kiosk = await bound_kiosk(client, rt, catalogue)
    await kiosk.log_in(id_number())
    receipt = await kiosk.get(f"receipt/{ref}")
    assert receipt.status_code == 200
    states_the_south_campus(receipt.text)
    assert f'id="receipt-place">{LABEL}<' in receipt.text

    # The messages: the SMS text sent, and the values of WeChat/SMS provider templates.
    await drain_in_process(rt, city_id=city.id)
    with use_city(city):
        async with rt.db.transaction() as s:
            booking = await s.scalar(select(Booking).where(Booking.id == ref))
            member = await s.get(Member, booking.member_id)
            notes = (await s.scalars(select(Notification).where(Notification.booking_id == ref))).all()
            facts = await load_facts(s, ref)
    [note] = [n for n in notes if n.kind == "booking_confirmed"]
    states_the_south_campus(note.body)
    for kind in ("booking_confirmed", "reminder_day_before", "reminder_30min"):
        states_the_south_campus(compose(city, kind, member, facts, {}))
        params = message_params(city, kind, member, facts, {})
        assert params["campus"] == LABEL
        states_the_south_campus(params["place"])

    # The API: the booking view and the availability items.
    token, _ = issue(rt.settings, member_id=member.id, city_id=city.id)
    api = f"/api/v1/{city.slug}"
    view = await client.get(f"{api}/bookings/{ref}", headers={"Authorization": f"Bearer {token}"})
    assert view.status_code == 200, view.text
    assert view.json()["campus"] == expected
    listed = await client.get(f"{api}/bookings", headers={"Authorization": f"Bearer {token}"})
    assert [b["campus"] for b in listed.json()["items"] if b["id"] == ref] == [expected]
    items = (await client.get(f"{api}/availability", params={"department_id": catalogue.department.id})).json()["items"]
    by_session = {i["session_id"]: i["campus"] for i in items}
    assert by_session[period.session_id] == expected
    main = {"id": catalogue.campus.id, "name": "本部", "address": ""}
    for item in items:
        assert item["campus"] == (expected if item["doctor_id"] == catalogue.doctor2.id else main)

    # The call-centre agent's view of the caller's bookings and of the booking being moved.
    agent = await add_staff(rt, city, "agent")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        console = Browser(c)
        await console.login(agent)
        base = f"/console/c/{city.slug}"
        verified = await console.post(f"{base}/agent/verify", {
            "member_id": str(member.id), "name": "张三", "id_last4": id_number()[-4:]})
        assert verified.status_code == 303, verified.text
        t = parse_qs(urlsplit(verified.headers["location"]).query)["t"][0]
        caller = await console.get(f"{base}/agent/caller", params={"t": t})
        assert caller.status_code == 200
        states_the_south_campus(caller.text)
        assert f'id="place-{ref}">{LABEL}<' in caller.text
        moving = await console.get(f"{base}/agent/book", params={"t": t, "booking_id": ref})
        assert moving.status_code == 200
        states_the_south_campus(moving.text)
        assert f'id="session-{period.session_id}-place">{LABEL}<' in moving.text


async def test_the_api_booking_answer_states_the_campus(rt, city, client, site_city):
    """The answer to a booking request (its view parts come from the booking's own statement)."""
    from tests.api.conftest import signup, url

    period = south_period(site_city)
    who = await signup(client, rt, city)
    r = await client.post(url(city, "/bookings"), json={"period_id": period.id}, headers=who.headers)
    assert r.status_code == 201, r.text
    assert r.json()["campus"] == {"id": site_city.campus2.id, "name": SOUTH[0], "address": SOUTH[1]}
