"""The patient site inside WeChat: a page opened with WeChat's user agent goes through WeChat's
web OAuth (snsapi_base) and comes back knowing the follower's openid; one real-name log-in binds
it to the member; from then on the booking confirmation reaches them as a WeChat template
message, and members without an openid get it by SMS. Real HTTP through the ASGI app, the far end
a local WeChat server."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from guahao.plugin_api import channels
from guahao.tenants.context import use_city
from tests.plugins.web.conftest import Visitor, id_number

from .conftest import WECHAT_UA, OaCity
from .fake import query_of


@pytest.fixture
async def webview(app):
    """The WeChat in-app browser: WeChat's user agent, its own cookies."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                                 headers={"User-Agent": WECHAT_UA}) as c:
        yield c


async def sign_in(oa_city: OaCity, webview, openid: str, path: str = "") -> httpx.Response:
    """Open ``path`` of the site in WeChat and follow WeChat's sign-in back to it."""
    root = f"/c/{oa_city.city.slug}/"
    opened = await webview.get(root + path)
    assert opened.status_code == 302, opened.text
    authorize = opened.headers["location"]
    assert authorize.startswith(oa_city.wechat.url + "/connect/oauth2/authorize?") and authorize.endswith("#wechat_redirect")
    q = query_of(authorize.split("#", 1)[0])
    assert q["appid"] == oa_city.app_id and q["scope"] == "snsapi_base" and q["response_type"] == "code"
    assert q["redirect_uri"].startswith(f"http://testserver{root}plugins/wechat_oa/oauth?")
    async with httpx.AsyncClient() as wechat:  # WeChat's own page, over real HTTP
        back = await wechat.get(authorize.split("#", 1)[0], headers={"X-WeChat-User": openid})
    assert back.status_code == 302
    returned = await webview.get(back.headers["location"])
    assert returned.status_code == 303 and returned.headers["location"] == root + path
    return await webview.get(returned.headers["location"])


async def test_a_page_opened_in_wechat_signs_in_and_comes_back(oa_city: OaCity, webview):
    openid = oa_city.follower()
    page = await sign_in(oa_city, webview, openid, f"doctors/{oa_city.cat.doctor.id}")
    assert page.status_code == 200 and oa_city.cat.doctor.name in page.text
    again = await webview.get(f"/c/{oa_city.city.slug}/")
    assert again.status_code == 200  # known now: no second trip through WeChat
    assert len([a for a in oa_city.wechat.authorized if a["appid"] == oa_city.app_id]) == 1


async def test_other_browsers_are_not_sent_to_wechat(oa_city: OaCity, client):
    page = await client.get(f"/c/{oa_city.city.slug}/")
    assert page.status_code == 200
    await oa_city.configure_oa(oauth=False)
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver",
                                 headers={"User-Agent": WECHAT_UA}) as webview:
        assert (await webview.get(f"/c/{oa_city.city.slug}/")).status_code == 200


async def test_one_log_in_binds_the_openid_and_the_confirmation_comes_as_a_template(oa_city: OaCity, webview, client):
    browser = Visitor(client, oa_city.city.slug)  # registered earlier, on a computer
    assert (await browser.register(name="赵敏", phone="13700137000")).status_code == 303
    openid = oa_city.follower()
    await sign_in(oa_city, webview, openid)
    inside = Visitor(webview, oa_city.city.slug)
    logged_in = await inside.login(login="13700137000")
    assert logged_in.status_code == 303
    after = logged_in.headers["location"]
    binding = await webview.get(after)  # the first page after log-in binds, and comes back to itself once
    assert binding.status_code == 303 and binding.headers["location"] == after
    assert (await webview.get(after)).status_code == 200
    member_id = await member_of(oa_city, "13700137000")
    assert await oa_city.openid_of(member_id) == openid

    period = oa_city.cat.periods[oa_city.cat.sessions[1].id][0]
    booked = await inside.book(period.id)
    assert booked.status_code == 303, booked.text
    await oa_city.drain()
    sent = [m for m in oa_city.wechat.sent if m["touser"] == openid]
    assert len(sent) == 1 and sent[0]["template_id"] == "TPL-booking-confirmed" and sent[0]["app_id"] == oa_city.app_id
    content = sent[0]["data"]["content"]["value"]
    assert "赵敏您好，您已预约成功" in content and oa_city.cat.hospital.name in content
    notes = [n for n in await oa_city.notifications(member_id) if n.kind == "booking_confirmed"]
    assert [(n.status, n.sender, n.recipient) for n in notes] == [("sent", "wechat_template", openid)]


async def test_a_member_without_openid_gets_the_confirmation_by_sms(oa_city: OaCity, client):
    browser = Visitor(client, oa_city.city.slug)
    await browser.register(name="钱七", number=id_number("11010519800101001"), phone="13600136000")
    period = oa_city.cat.periods[oa_city.cat.sessions[1].id][0]
    assert (await browser.book(period.id)).status_code == 303
    await oa_city.drain()
    member_id = await member_of(oa_city, "13600136000")
    notes = [n for n in await oa_city.notifications(member_id) if n.kind == "booking_confirmed"]
    assert [(n.status, n.sender, n.recipient) for n in notes] == [("sent", "message_log", "13600136000")]


async def test_unfollowing_sends_the_next_notice_by_sms(oa_city: OaCity, webview):
    openid = oa_city.follower()
    await sign_in(oa_city, webview, openid)
    inside = Visitor(webview, oa_city.city.slug)
    await inside.register(name="孙八", number=id_number("11010519750505003"), phone="13500135000")
    assert (await webview.get(f"/c/{oa_city.city.slug}/")).status_code == 303
    member_id = await member_of(oa_city, "13500135000")
    assert await oa_city.openid_of(member_id) == openid
    await oa_city.pusher().event(openid, "unsubscribe")
    assert await oa_city.openid_of(member_id) is None
    period = oa_city.cat.periods[oa_city.cat.sessions[2].id][0]
    assert (await Visitor(webview, oa_city.city.slug).book(period.id)).status_code == 303
    await oa_city.drain()
    notes = [n for n in await oa_city.notifications(member_id) if n.kind == "booking_confirmed"]
    assert [(n.sender, n.recipient) for n in notes] == [("message_log", "13500135000")]
    assert not [m for m in oa_city.wechat.sent if m["touser"] == openid]
    # following again restores the binding the unfollowing removed
    welcome = oa_city.pusher().read_reply(await oa_city.pusher().event(openid, "subscribe"))["Content"]
    assert "欢迎回来" in welcome and await oa_city.openid_of(member_id) == openid


async def test_a_code_brought_back_without_its_state_binds_nothing(oa_city: OaCity, webview, client):
    """A sign-in code slipped into another browser (login CSRF) is not taken."""
    attacker = oa_city.follower()
    opened = await webview.get(f"/c/{oa_city.city.slug}/")
    authorize = opened.headers["location"].split("#", 1)[0]
    async with httpx.AsyncClient() as wechat:
        back = await wechat.get(authorize, headers={"X-WeChat-User": attacker})
    victim = httpx.AsyncClient(transport=client._transport, base_url="http://testserver", headers={"User-Agent": WECHAT_UA})
    async with victim:
        returned = await victim.get(back.headers["location"])  # no state cookie in this browser
        assert returned.status_code == 303
        await Visitor(victim, oa_city.city.slug).register(name="周九", number=id_number("11010519700707004"),
                                                          phone="13300133000")
        await victim.get(f"/c/{oa_city.city.slug}/")
    assert await oa_city.openid_of(await member_of(oa_city, "13300133000")) is None
    with use_city(oa_city.city):
        assert await channels.member_by_openid(oa_city.rt, attacker) is None


async def test_a_failed_exchange_is_not_retried_in_a_loop(oa_city: OaCity, webview):
    await oa_city.configure_oa(secrets={"app_secret": "not-the-secret-0123456789"})
    opened = await webview.get(f"/c/{oa_city.city.slug}/news")
    authorize = opened.headers["location"].split("#", 1)[0]
    async with httpx.AsyncClient() as wechat:
        back = await wechat.get(authorize, headers={"X-WeChat-User": oa_city.follower()})
    returned = await webview.get(back.headers["location"])
    assert returned.status_code == 303 and urlsplit(returned.headers["location"]).path == f"/c/{oa_city.city.slug}/news"
    assert (await webview.get(returned.headers["location"])).status_code == 200  # not sent round again


async def test_next_never_leaves_the_citys_site(oa_city: OaCity, webview):
    for bad in ("https://evil.example/", "//evil.example/", f"/c/{oa_city.city.slug}/../other/", "/c/other/"):
        response = await webview.get(f"/c/{oa_city.city.slug}/plugins/wechat_oa/oauth", params={"next": bad})
        assert response.status_code == 303 and response.headers["location"] == f"/c/{oa_city.city.slug}/"


async def member_of(oa_city: OaCity, phone: str) -> int:
    from sqlalchemy import select

    from guahao.core.models import Member
    from guahao.tenants.context import use_city

    with use_city(oa_city.city):
        async with oa_city.rt.db.transaction() as s:
            return await s.scalar(select(Member.id).where(Member.phone == phone))
