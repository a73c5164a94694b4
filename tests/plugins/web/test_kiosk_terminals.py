"""A kiosk bound to its hospital (R5.5): ``?terminal=`` binds the machine, the kiosk then
offers that hospital only, the receipt names the terminal, unknown terminals are refused, and
without a registered terminal nobody can identify themselves at the kiosk's address."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from guahao.core.models import Hospital, OutboxMessage
from guahao.core.plugins.manager import configure
from guahao.plugins.channels.web.terminals import COOKIE, configured
from guahao.tenants.context import use_city

from .conftest import KEY, PHONE, Kiosk, csrf_of, id_number, register_terminal


@pytest.fixture
async def other(rt, city, site_city) -> Hospital:
    """A second hospital of the same city (the children's hospital with its own kiosk)."""
    with use_city(city):
        async with rt.db.transaction() as s:
            hospital = Hospital(code="H2", name="儿童医院", short_name="儿院")
            s.add(hospital)
            await s.flush()
            return hospital


async def bind_terminals(rt, city, own, other) -> None:
    await configure(rt, city, "web", settings={"kiosk_terminals": {
        "MZ-01": {"hospital_id": own.hospital.id, "name": "门诊大厅1号机"},
        "EK-02": {"hospital_id": other.id, "name": "儿科2号机"},
    }})


async def test_a_bound_terminal_offers_its_own_hospital_only(kiosk, rt, city, site_city, other):
    await bind_terminals(rt, city, site_city, other)
    bound = await kiosk.get("?terminal=MZ-01")
    assert bound.status_code == 303 and bound.headers["location"] == kiosk.root
    [cookie] = [c for c in bound.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}=")]
    assert cookie.startswith(f"{COOKIE}=MZ-01;") and f"Path={kiosk.root}" in cookie and "Max-Age=157680000" in cookie

    start = await kiosk.get("")
    assert 'id="terminal-name"' in start.text and "门诊大厅1号机" in start.text
    await kiosk.log_in()
    home = await kiosk.get("")
    assert f'hospitals/{site_city.hospital.id}"' in home.text
    assert f'hospitals/{other.id}"' not in home.text and 'id="district"' not in home.text
    assert (await kiosk.get(f"hospitals/{site_city.hospital.id}")).status_code == 200
    assert (await kiosk.get(f"doctors/{site_city.doctor.id}")).status_code == 200
    assert (await kiosk.get(f"hospitals/{other.id}")).status_code == 404


async def test_pages_and_slots_of_another_hospital_are_refused(kiosk, rt, city, site_city, other):
    await bind_terminals(rt, city, site_city, other)
    await kiosk.get("?terminal=EK-02")
    await kiosk.log_in()
    home = await kiosk.get("")
    assert f'hospitals/{other.id}"' in home.text and f'hospitals/{site_city.hospital.id}"' not in home.text
    found = await kiosk.get("?q=" + site_city.doctor.name)  # the search stays inside the hospital
    assert f"doctors/{site_city.doctor.id}" not in found.text
    period = site_city.periods[site_city.sessions[2].id][0]
    for path in (f"hospitals/{site_city.hospital.id}", f"departments/{site_city.department.id}",
                 f"doctors/{site_city.doctor.id}", f"book/{period.id}"):
        refused = await kiosk.get(path)
        assert refused.status_code == 404 and 'data-code="other_hospital"' in refused.text, path
        assert "仅提供本院" in refused.text
    booked = await kiosk.client.post(kiosk.root + f"book/{period.id}", data={"csrf": csrf_of(home.text), "key": "x"})
    assert booked.status_code == 404


async def test_the_receipt_names_the_terminal(kiosk, rt, city, site_city, other):
    await bind_terminals(rt, city, site_city, other)
    await kiosk.get("?terminal=MZ-01")
    await kiosk.log_in()
    period = site_city.periods[site_city.sessions[4].id][0]
    page = await kiosk.get(f"book/{period.id}")
    booked = await kiosk.client.post(kiosk.root + f"book/{period.id}",
                                     data={"csrf": csrf_of(page.text), "key": KEY.search(page.text).group(1)})
    assert booked.status_code == 303
    ref = re.search(r"bookings/([^?]+)", booked.headers["location"]).group(1)
    receipt = await kiosk.get(f"receipt/{ref}")
    assert 'id="receipt-terminal"' in receipt.text and "门诊大厅1号机 (MZ-01)" in receipt.text


async def test_an_unknown_terminal_is_refused_clearly(kiosk, rt, city, site_city, other):
    await bind_terminals(rt, city, site_city, other)
    refused = await kiosk.get("?terminal=NOPE-9")
    assert refused.status_code == 404 and 'data-code="unknown_terminal"' in refused.text
    assert "尚未在平台登记" in refused.text and COOKIE not in refused.headers.get("set-cookie", "")

    await kiosk.get("?terminal=EK-02")
    await configure(rt, city, "web", settings={"kiosk_terminals": {}})  # the terminal was removed since
    stale = await kiosk.get("")
    assert stale.status_code == 404 and 'data-code="unknown_terminal"' in stale.text


@pytest.fixture
async def unbound(client, visitor, site_city) -> Kiosk:
    """A browser anywhere opening the kiosk's address, with no registered terminal bound."""
    await visitor.register()
    return Kiosk(client, site_city.city.slug)


async def test_identification_needs_a_registered_terminal(unbound, rt, city):
    start = await unbound.get("")
    assert start.status_code == 403 and 'data-code="terminal_required"' in start.text
    assert "已登记的医院自助机" in start.text and 'id="id_number"' not in start.text
    csrf = csrf_of(start.text)
    for path, form in (("card", {"id_number": id_number()}), ("verify", {"action": "digits", "digits": PHONE[-4:]}),
                       ("verify", {"action": "send"})):
        refused = await unbound.client.post(unbound.root + path, data={"csrf": csrf, **form})
        assert refused.status_code == 403 and 'data-code="terminal_required"' in refused.text, path
    assert 'id="member-name"' not in (await unbound.get("")).text
    gone = await unbound.get("bookings")
    assert gone.status_code == 303 and gone.headers["location"] == unbound.root
    with use_city(city):
        async with rt.db.transaction() as s:  # no login code went out for the card
            assert not [m for m in (await s.scalars(select(OutboxMessage))).all()
                        if (m.payload or {}).get("kind") == "login_code"]

    await unbound.set_language("en")
    english = await unbound.get("")
    assert english.status_code == 403 and "registered self-service terminal" in english.text


async def test_a_terminal_bound_since_allows_identification(unbound, rt, site_city):
    assert (await unbound.get("")).status_code == 403
    await register_terminal(rt, site_city)
    await unbound.bind()
    assert (await unbound.log_in()).status_code == 303
    assert 'id="member-name"' in (await unbound.get("")).text


def test_malformed_terminal_settings_are_left_out():
    terminals = configured({"kiosk_terminals": {"ok": {"hospital_id": "3"}, "bad id!": {"hospital_id": 1},
                                                "no-hospital": {"name": "x"}, "not-a-dict": 4}})
    assert list(terminals) == ["ok"] and terminals["ok"].hospital_id == 3 and terminals["ok"].name == "ok"
    assert configured({}) == {} and configured({"kiosk_terminals": ["x"]}) == {}
