"""What followers are answered: keywords (the built-in ones and the city's own), menu clicks,
following and unfollowing — unfollowing unbinds the member's openid, so their notices go by
SMS from then on."""

from __future__ import annotations

from guahao.core.booking import engine
from guahao.tenants.context import use_city
from tests.core.plugins.probes import make_member

from .conftest import OaCity


async def ask(oa_city: OaCity, openid: str, text: str) -> str:
    pusher = oa_city.pusher()
    return pusher.read_reply(await pusher.text(openid, text)).get("Content", "")


async def bind(oa_city: OaCity, openid: str):
    from guahao.plugin_api import channels

    member = await make_member(oa_city.rt, oa_city.city, name="王芳")
    with use_city(oa_city.city):
        assert await channels.bind_openid(oa_city.rt, member.id, openid)
    return member


async def test_booking_words_get_the_patient_site_link(oa_city: OaCity):
    openid = oa_city.follower()
    site = f"http://testserver/c/{oa_city.city.slug}/"
    for text in ("预约", "我想挂号", "挂个号"):
        answer = await ask(oa_city, openid, text)
        assert f'<a href="{site}">预约挂号</a>' in answer, text


async def test_fee_words_get_the_in_clinic_fee_payment_page(oa_city: OaCity):
    openid = oa_city.follower()
    site = f"http://testserver/c/{oa_city.city.slug}/"
    for text in ("缴费", "怎么交药费", "检查费在哪付"):
        answer = await ask(oa_city, openid, text)
        assert f'<a href="{site}fees">诊间缴费</a>' in answer, text


async def test_my_bookings_asks_an_unbound_follower_to_log_in_once(oa_city: OaCity):
    answer = await ask(oa_city, oa_city.follower(), "我的预约")
    assert "尚未绑定" in answer and f"/c/{oa_city.city.slug}/bookings" in answer


async def test_my_bookings_lists_a_bound_members_upcoming_bookings(oa_city: OaCity):
    openid = oa_city.follower()
    member = await bind(oa_city, openid)
    assert "没有待就诊的预约" in await ask(oa_city, openid, "我的预约")
    cat = oa_city.cat
    period = cat.periods[cat.sessions[0].id][0]
    with use_city(oa_city.city):
        async with oa_city.rt.db.transaction() as s:
            booking = await engine.reserve(s, member_id=member.id, period_id=period.id, channel="web")
    answer = await ask(oa_city, openid, "查询我的预约")
    assert booking.id in answer and cat.hospital.name in answer and cat.department.name in answer
    assert answer.startswith("您的预约：\n1. ")


async def test_cancel_help_and_guide_words(oa_city: OaCity):
    openid = oa_city.follower()
    assert "取消预约" in await ask(oa_city, openid, "怎么取消")
    guide = await ask(oa_city, openid, "帮助")
    assert guide.startswith("就医指南：") and guide == await ask(oa_city, openid, "就医指南")
    assert "回复“预约”预约挂号" in await ask(oa_city, openid, "你好")


async def test_the_citys_own_keywords_come_first(oa_city: OaCity):
    await oa_city.configure_oa(keywords={"停诊": "停诊信息见 {site}news", "预约取消": "本市特别说明"},
                               guide="本市就医指南：带好身份证。")
    openid = oa_city.follower()
    assert await ask(oa_city, openid, "明天停诊吗") == f"停诊信息见 http://testserver/c/{oa_city.city.slug}/news"
    assert await ask(oa_city, openid, "预约取消") == "本市特别说明"
    assert await ask(oa_city, openid, "帮助") == "本市就医指南：带好身份证。"


async def test_menu_clicks_answer_as_their_keywords(oa_city: OaCity):
    pusher, openid = oa_city.pusher(safe=True), oa_city.follower()
    mine = pusher.read_reply(await pusher.event(openid, "CLICK", "MY_BOOKINGS"))["Content"]
    assert "尚未绑定" in mine
    cancel = pusher.read_reply(await pusher.event(openid, "CLICK", "CANCEL"))["Content"]
    assert "取消预约" in cancel
    guide = pusher.read_reply(await pusher.event(openid, "CLICK", "GUIDE"))["Content"]
    assert guide.startswith("就医指南")
    view = await pusher.event(openid, "VIEW", f"http://testserver/c/{oa_city.city.slug}/")
    assert view.status_code == 200 and view.text == "success"


async def test_a_new_follower_is_welcomed_with_the_menus_choices(oa_city: OaCity):
    pusher, openid = oa_city.pusher(), oa_city.follower()
    welcome = pusher.read_reply(await pusher.event(openid, "subscribe"))["Content"]
    assert oa_city.city.name in welcome
    for word in ("预约", "我的预约", "取消", "帮助"):
        assert f"“{word}”" in welcome
    scanned = pusher.read_reply(await pusher.event(openid, "subscribe", "qrscene_123"))["Content"]
    assert scanned == welcome


async def test_unfollowing_unbinds_the_member_and_gets_no_answer(oa_city: OaCity):
    openid = oa_city.follower()
    member = await bind(oa_city, openid)
    assert await oa_city.openid_of(member.id) == openid
    pusher = oa_city.pusher(safe=True)
    response = await pusher.event(openid, "unsubscribe")
    assert response.status_code == 200 and response.text == "success"
    assert await oa_city.openid_of(member.id) is None
    [push] = await oa_city.pushes()
    assert push.kind == "event:unsubscribe" and push.outcome == f"unbound:{member.id}"


async def test_a_template_delivery_report_is_acknowledged_silently(oa_city: OaCity):
    pusher = oa_city.pusher()
    xml = pusher.xml(oa_city.follower(), "event", Event="TEMPLATESENDJOBFINISH", MsgID=1001, Status="success")
    response = await pusher.send(pusher.build(xml))
    assert response.text == "success"
    assert [p.outcome for p in await oa_city.pushes()] == ["template:success"]
