"""Notices to a member bound to a WeChat openid: WeChat template messages first (before SMS),
SMS when WeChat cannot carry one — a kind with no template, a follower WeChat no longer
delivers to."""

from __future__ import annotations

from guahao.core.plugins.manager import configure
from guahao.plugin_api import channels
from guahao.tenants.context import use_city
from tests.plugins.web.conftest import Visitor, id_number

from .conftest import OaCity
from .test_oauth import member_of


async def booked_and_cancelled(oa_city: OaCity, client, phone: str, openid: str | None) -> int:
    browser = Visitor(client, oa_city.city.slug)
    number = id_number(f"11010519900307{phone[-3:]}")
    assert (await browser.register(name="吴十", number=number, phone=phone)).status_code == 303
    member_id = await member_of(oa_city, phone)
    if openid:
        with use_city(oa_city.city):
            await channels.bind_openid(oa_city.rt, member_id, openid)
    period = oa_city.cat.periods[oa_city.cat.sessions[1].id][0]
    booked = await browser.book(period.id)
    assert booked.status_code == 303
    await oa_city.drain()  # the confirmation goes before the cancellation
    ref = booked.headers["location"].split("?", 1)[0].rstrip("/").split("/")[-1]
    assert (await browser.post(f"bookings/{ref}/cancel", {})).status_code == 303
    await oa_city.drain()
    return member_id


async def test_wechat_goes_first_and_sms_carries_what_wechat_cannot(oa_city: OaCity, client):
    # an SMS gateway at its usual priority (10): WeChat (5) still goes first for a follower
    await configure(oa_city.rt, oa_city.city, "message_log", settings={"channels": ["sms"], "priority": 10})
    openid = oa_city.follower()
    member_id = await booked_and_cancelled(oa_city, client, "13812345678", openid)
    notes = {n.kind: (n.status, n.sender, n.recipient) for n in await oa_city.notifications(member_id)}
    assert notes["booking_confirmed"] == ("sent", "wechat_template", openid)
    # the city has no template for cancellations: that notice goes by SMS
    assert notes["booking_cancelled"] == ("sent", "message_log", "13812345678")
    assert [m["template_id"] for m in oa_city.wechat.sent if m["touser"] == openid] == ["TPL-booking-confirmed"]


async def test_a_follower_wechat_refuses_gets_the_notice_by_sms(oa_city: OaCity, client):
    left = "o" + "x" * 27  # bound, but WeChat does not deliver to it (not a follower)
    member_id = await booked_and_cancelled(oa_city, client, "13887654321", left)
    notes = {n.kind: (n.status, n.sender, n.recipient) for n in await oa_city.notifications(member_id)}
    assert notes["booking_confirmed"] == ("sent", "message_log", "13887654321")
    assert not [m for m in oa_city.wechat.sent if m["touser"] == left]
