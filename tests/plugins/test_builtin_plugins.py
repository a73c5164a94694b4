"""The three built-in plugins: pay at hospital, the demo HIS (with its check-in route), the message log."""

import pytest
from sqlalchemy import select

from guahao.core.booking import engine
from guahao.core.errors import DomainError
from guahao.core.models import Booking
from guahao.core.plugins.interfaces import OutgoingMessage
from guahao.plugins.channels.message_log import MessageLogSender
from guahao.plugins.his.demo import TOKEN_HEADER, DemoHis, HisUnavailable, report_check_in
from guahao.plugins.payments.pay_at_hospital import PayAtHospital
from guahao.tenants.context import use_city
from tests.core.plugins.probes import enable, make_member
from tests.factories import make_city

TOKEN = "his-shared-secret-123"


async def book(rt, city, catalogue) -> Booking:
    member = await make_member(rt, city)
    period = catalogue.periods[catalogue.sessions[-1].id][0]
    with use_city(city):
        async with rt.db.transaction() as s:
            return await engine.reserve(s, member_id=member.id, period_id=period.id, channel="web")


async def test_pay_at_hospital_moves_no_money_and_refunds_nothing():
    provider = PayAtHospital()
    booking = Booking(id="GH123", fee_fen=5050)
    intent = await provider.prepare(booking, {}, {})
    assert (intent.provider, intent.booking_id, intent.amount_fen, intent.online) == ("pay_at_hospital", "GH123", 5050, False)
    assert "50.50" in intent.instructions and "医院" in intent.instructions and intent.redirect_url is None
    assert "自助机" in intent.instructions
    assert "收费处" in (await provider.prepare(booking, {"where": "门诊一楼收费处"}, {})).instructions

    result = await provider.execute(booking, {}, {})
    assert result.status == "pending"
    refund = await provider.refund(booking, 5050, {}, {})
    assert (refund.status, refund.amount_fen) == ("nothing_to_refund", 0)
    assert not provider.refund_supported
    assert provider.matching_id(booking) == "GH123"


async def test_the_message_log_accepts_messages_on_its_channels():
    sender = MessageLogSender()
    message = OutgoingMessage(notification_id=7, kind="booking_confirmed", channel="sms", recipient="13800000000", body="hi")
    assert "sms" in sender.channels
    ok = await sender.send(None, message, {}, {})
    assert ok.ok and ok.provider_ref == "log-7"
    refused = await sender.send(None, message, {"channels": ["wechat"]}, {})
    assert not refused.ok and not refused.retryable
    nobody = OutgoingMessage(notification_id=8, kind="k", channel="sms", recipient="", body="hi")
    assert not (await sender.send(None, nobody, {}, {})).ok


async def test_the_demo_his_accepts_pushes_or_pretends_to_be_down():
    his = DemoHis()
    ack = await his.push_booking(None, {"id": "GH1"}, {}, {})
    assert ack.reference == "DEMO-GH1"
    assert (await his.push_cancellation(None, {"id": "GH1"}, {}, {})).reference == "DEMO-GH1"
    with pytest.raises(HisUnavailable):
        await his.push_booking(None, {"id": "GH1"}, {"fail_pushes": True}, {})
    assert await his.pull_schedules(None, "H1", None, None, {}, {}) == []  # no doctors chosen: nothing published
    assert (await his.health(None, {}, {})).ok
    assert not (await his.health(None, {"fail_pushes": True}, {})).ok
    assert {"schedules", "visits", "fees", "health"} <= his.operations


async def test_report_check_in_checks_the_booking_in(rt, city, catalogue):
    booking = await book(rt, city, catalogue)
    view = await report_check_in(rt, city, booking.id)
    assert view["id"] == booking.id and view["status"] == "checked_in" and view["checked_in_at"]
    with pytest.raises(DomainError) as err:
        await report_check_in(rt, city, "NOSUCHBOOKING")
    assert err.value.status == 404


async def test_the_check_in_route_needs_the_shared_token(rt, city, catalogue, client):
    city = await enable(rt, city, "demo_his", secrets={"token": TOKEN})
    booking = await book(rt, city, catalogue)
    url = f"/c/{city.slug}/plugins/demo_his/checkin"

    missing = await client.post(url, json={"booking_id": booking.id})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "invalid_his_token"
    wrong = await client.post(url, json={"booking_id": booking.id}, headers={TOKEN_HEADER: "guess"})
    assert wrong.status_code == 401

    ok = await client.post(url, json={"booking_id": booking.id}, headers={TOKEN_HEADER: TOKEN})
    assert ok.status_code == 200, ok.text
    assert ok.json()["booking"]["status"] == "checked_in"
    with use_city(city):
        async with rt.db.transaction() as s:
            assert (await s.scalar(select(Booking).where(Booking.id == booking.id))).status == "checked_in"

    unknown = await client.post(url, json={"booking_id": "NOSUCHBOOKING"}, headers={TOKEN_HEADER: TOKEN})
    assert unknown.status_code == 404
    for body in (b"not json", b"[]", b'{"booking_id": 5}', b"{}", b"x" * 10000):
        bad = await client.post(url, content=body, headers={TOKEN_HEADER: TOKEN, "content-type": "application/json"})
        assert 400 <= bad.status_code < 500 and "error" in bad.json(), body[:20]
    assert (await client.get(url, headers={TOKEN_HEADER: TOKEN})).status_code == 405


async def test_the_check_in_route_is_closed_without_a_configured_token(rt, city, catalogue, client):
    booking = await book(rt, city, catalogue)
    response = await client.post(
        f"/c/{city.slug}/plugins/demo_his/checkin", json={"booking_id": booking.id}, headers={TOKEN_HEADER: ""}
    )
    assert response.status_code == 401


async def test_the_check_in_route_does_not_exist_where_the_plugin_is_disabled(rt, city, client):
    other = await make_city(rt, city.slug + "-nohis")
    other = await enable(rt, other, "demo_his", enabled=False, secrets={"token": TOKEN})
    response = await client.post(
        f"/c/{other.slug}/plugins/demo_his/checkin", json={"booking_id": "X"}, headers={TOKEN_HEADER: TOKEN}
    )
    assert response.status_code == 404
