"""What a licence's state does to bookings, through the API, the patient site and the
call-centre agent: restricted (expired, not yet valid, none when required) refuses every new
booking with 403 ``licence_restricted`` and a Chinese sentence (English in the details), while
existing bookings, cancellation and check-in keep working; expiring and grace take bookings."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, timedelta

import httpx
import pytest

from guahao.core.audit import Actor
from guahao.core.runtime import Runtime
from guahao.licensing.licences import cache
from guahao.licensing.licences.document import LicenceDocument, Limits
from guahao.licensing.licences.enforcement import booking_refusal
from guahao.licensing.licences.keys import new_key_pair
from guahao.licensing.licences.service import install_licence, licence_status, revoke_licence
from guahao.licensing.licences.signing import sign
from guahao.licensing.licences.states import local_today
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.api.conftest import signup, url
from tests.plugins.web.conftest import Visitor

VENDOR = new_key_pair()
ZH_REFUSAL = "本市预约服务授权已到期，暂停受理新的预约；已有预约、取消、退款和就诊不受影响。请通过其他方式联系医院。"


@pytest.fixture(scope="module")
async def rt(settings):
    """The runtime of these tests: it trusts the test vendor's public key (and nothing else in
    production, i.e. on PostgreSQL)."""
    runtime = Runtime(dataclasses.replace(settings, licence_public_keys=(VENDOR.public_paserk,)))
    await runtime.start()
    yield runtime
    await runtime.stop()


def _today(city) -> date:
    return local_today(utcnow(), city.tz)


async def install(rt, city, *, valid_from: date, valid_until: date, grace_days: int = 30, installed_on: date | None = None,
                  **limits) -> str:
    """Sign a licence with the test vendor's key and install it, as if on ``installed_on``
    (a licence is refused once its grace is over, so one that is over now is installed in the past)."""
    doc = LicenceDocument(city=city.slug, valid_from=valid_from, valid_until=valid_until, grace_days=grace_days,
                          operator="测试运营方", limits=Limits(**limits))
    token = sign(doc, VENDOR.private_pem)
    if installed_on is None:
        outcome = await install_licence(rt, city, token)
    else:
        shift = _today(city) - installed_on
        with frozen(utcnow() - shift):
            outcome = await install_licence(rt, city, token)
    return outcome.licence.document.licence_id


async def expire(rt, city) -> None:
    """Install a licence whose grace ended a fortnight ago."""
    today = _today(city)
    await install(rt, city, valid_from=today - timedelta(days=400), valid_until=today - timedelta(days=45),
                  installed_on=today - timedelta(days=60))


async def book(client, city, member, period_id: int):
    return await client.post(url(city, "/bookings"), json={"period_id": period_id, "channel": "app"},
                             headers=member.headers)


def _period(cat, session: int, index: int = 0) -> int:
    return cat.periods[cat.sessions[session].id][index].id


async def test_restricted_city_refuses_new_bookings_over_the_api_and_keeps_the_rest(rt, client, city, catalogue):
    member = await signup(client, rt, city)
    kept = await book(client, city, member, _period(catalogue, 0))
    assert kept.status_code == 201  # no licence, none required: the city is unlicensed and books
    other = await book(client, city, member, _period(catalogue, 2))
    assert other.status_code == 201

    await expire(rt, city)
    assert (await licence_status(rt, city, with_usage=False))["state"] == "restricted"
    # What exists keeps working: cancelling (two is this city's most), reading, listing, checking in.
    cancelled = await client.post(url(city, f"/bookings/{other.json()['id']}/cancel"), headers=member.headers)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    refused = await book(client, city, member, _period(catalogue, 4))
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "licence_restricted" and error["message"] == ZH_REFUSAL
    assert "no new bookings" in error["details"]["message_en"] and error["details"]["state"] == "restricted"

    ref = kept.json()["id"]
    assert (await client.get(url(city, f"/bookings/{ref}"), headers=member.headers)).status_code == 200
    listed = await client.get(url(city, "/bookings"), headers=member.headers)
    assert {b["id"] for b in listed.json()["items"]} == {ref, other.json()["id"]}
    from guahao.plugin_api import check_in

    period = catalogue.periods[catalogue.sessions[0].id][0]
    with frozen(period.starts_at + timedelta(minutes=5)):
        seen = await check_in(rt, city, ref, source="his:demo_his")
    assert seen["status"] == "checked_in"


async def test_grace_and_expiring_take_bookings(rt, client, city, catalogue):
    member = await signup(client, rt, city)
    today = _today(city)
    await install(rt, city, valid_from=today - timedelta(days=300), valid_until=today - timedelta(days=3))
    status = await licence_status(rt, city, with_usage=False)
    assert (status["state"], status["grace_days_left"]) == ("grace", 28)
    assert (await book(client, city, member, _period(catalogue, 0))).status_code == 201

    await install(rt, city, valid_from=today, valid_until=today + timedelta(days=9))
    status = await licence_status(rt, city, with_usage=False)
    assert (status["state"], status["days_left"]) == ("expiring", 10)
    assert (await book(client, city, member, _period(catalogue, 2))).status_code == 201


async def test_a_licence_not_yet_in_force_refuses_and_a_renewal_waits_for_its_day(rt, client, city, catalogue):
    member = await signup(client, rt, city)
    today = _today(city)
    await install(rt, city, valid_from=today + timedelta(days=5), valid_until=today + timedelta(days=300))
    refused = await book(client, city, member, _period(catalogue, 0))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "licence_restricted"
    assert "尚未生效" in refused.json()["error"]["message"]
    assert refused.json()["error"]["details"]["reason"] == "not_yet_valid"

    # A licence in force installed next to it counts until the renewal's first day.
    await install(rt, city, valid_from=today - timedelta(days=10), valid_until=today + timedelta(days=20))
    assert (await book(client, city, member, _period(catalogue, 0))).status_code == 201


async def test_no_licence_when_one_is_required_refuses_and_revoking_unlicenses(settings, rt, city, catalogue):
    strict = Runtime(dataclasses.replace(rt.settings, licence_required=True))
    await strict.start()
    try:
        from guahao.core.app import create_app

        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(strict.settings, runtime=strict)),
                                     base_url="http://testserver") as client:
            member = await signup(client, strict, city)
            refused = await book(client, city, member, _period(catalogue, 0))
            assert refused.status_code == 403 and "尚未获得有效授权" in refused.json()["error"]["message"]
            today = _today(city)
            await install(strict, city, valid_from=today, valid_until=today + timedelta(days=100))
            assert (await book(client, city, member, _period(catalogue, 0))).status_code == 201
            assert await revoke_licence(strict, city, reason="合同终止") != []
            refused = await book(client, city, member, _period(catalogue, 2))
            assert refused.status_code == 403 and refused.json()["error"]["details"]["reason"] == "no_licence"
    finally:
        await strict.stop()
    # Not required (the test runtime): the same city without a licence is unlicensed and books.
    cache.forget(rt, city.id)
    assert (await licence_status(rt, city, with_usage=False))["state"] == "unlicensed"
    assert await booking_refusal(city, "app", rt) is None


async def test_the_patient_site_shows_the_refusal_in_chinese_and_english(rt, client, city, catalogue):
    from guahao.core.plugins.manager import configure

    await configure(rt, city, "web")
    visitor = Visitor(client, city.slug)
    assert (await visitor.register()).status_code == 303
    await expire(rt, city)
    period = _period(catalogue, 2)
    refused = await visitor.book(period)
    assert refused.status_code == 403
    assert re.search(r'id="error" data-code="licence_restricted">' + re.escape(ZH_REFUSAL), refused.text)

    assert (await visitor.set_language("en")).status_code == 303
    refused = await visitor.book(period)
    assert refused.status_code == 403 and 'data-code="licence_restricted"' in refused.text
    assert "no new bookings are being taken" in refused.text and ZH_REFUSAL not in refused.text
    # The member's pages still open.
    assert (await visitor.get("bookings")).status_code == 200


async def test_the_call_centre_agent_is_refused_too(rt, city, catalogue):
    from guahao.core.backoffice.agent import book_for_caller
    from guahao.core.errors import DomainError
    from tests.core.booking.helpers import make_member

    member_id = await make_member(rt, city)
    await expire(rt, city)
    agent = Actor("staff", 1, "坐席 测试", "agent")
    with use_city(city), pytest.raises(DomainError) as refused:
        await book_for_caller(rt, member_id=member_id, period_id=_period(catalogue, 0), recording_ref="REC-1", actor=agent)
    assert refused.value.code == "licence_restricted" and refused.value.status == 403


async def test_the_booking_check_reads_no_database_once_loaded(rt, city, monkeypatch):
    today = _today(city)
    await install(rt, city, valid_from=today, valid_until=today + timedelta(days=100))
    assert await booking_refusal(city, "app", rt) is None

    async def no_load(*args, **kwargs):
        raise AssertionError("the booking path loaded licences")

    monkeypatch.setattr(cache, "_load", no_load)
    for _ in range(50):
        assert await booking_refusal(city, "web", rt) is None
    cache.forget(rt, city.id)  # after an install or the refresh time, it loads again
    with pytest.raises(AssertionError):
        await booking_refusal(city, "web", rt)
