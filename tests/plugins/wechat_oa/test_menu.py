"""The menu pushed to WeChat (``cgi-bin/menu/create``) with the app's access token — the same
token the template sender uses — and ``guahao wechat menu push CITY``."""

from __future__ import annotations

import asyncio
import json

import pytest

from guahao.core.cli import main
from guahao.core.plugins.interfaces import OutgoingMessage
from guahao.core.plugins.manager import configure
from guahao.plugins.channels.wechat_oa import menu
from guahao.plugins.channels.wechat_template import WeChatTemplateSender
from guahao.tenants.service import get_city
from tests.core.test_cli import _slug, env  # noqa: F401  (the fixture)
from tests.core.test_cli_outbox import _with_runtime

from .conftest import OaCity


async def test_the_default_menu_is_pushed_with_the_shared_token(oa_city: OaCity):
    plugins = await oa_city.rt.plugins.for_city(oa_city.city)
    settings, secrets = plugins.settings("wechat_oa"), plugins.secrets("wechat_oa")
    body = await menu.push({**settings, "site_url": "https://gh.example.cn/c/sz"}, secrets, oa_city.city)
    raw = oa_city.wechat.menus[oa_city.app_id]
    assert "预约挂号" in raw and "\\u" not in raw  # UTF-8 text, as WeChat needs it
    pushed = json.loads(raw)
    assert pushed == body
    names = [b["name"] for b in pushed["button"]]
    assert names == ["预约挂号", "我的预约", "就医指南"]
    assert pushed["button"][0] == {"type": "view", "name": "预约挂号", "url": "https://gh.example.cn/c/sz/"}
    assert [s["key"] for s in pushed["button"][1]["sub_button"]] == ["MY_BOOKINGS", "CANCEL"]
    assert [s["name"] for s in pushed["button"][1]["sub_button"]] == ["我的预约", "取消预约"]
    # the template sender of the same app finds the token already fetched
    openid = oa_city.follower()
    message = OutgoingMessage(notification_id=1, kind="booking_confirmed", channel="wechat", recipient=openid, body="已预约")
    result = await WeChatTemplateSender().send(oa_city.city, message, *plugins.config_of(
        next(s for s in plugins.notification_senders() if s.name == "wechat_template")))
    assert result.ok
    assert oa_city.wechat.token_requests[oa_city.app_id] == 1


async def test_a_citys_own_menu_is_checked_then_pushed(oa_city: OaCity):
    own = [{"type": "click", "name": "挂号", "key": "BOOK"},
           {"name": "服务", "sub_button": [{"type": "view", "name": "停诊公告", "url": "{site}news"},
                                          {"type": "click", "name": "指南", "key": "GUIDE"}]}]
    await oa_city.configure_oa(menu=own, site_url="https://gh.example.cn/c/x/")
    plugins = await oa_city.rt.plugins.for_city(oa_city.city)
    body = await menu.push(plugins.settings("wechat_oa"), plugins.secrets("wechat_oa"), oa_city.city)
    assert body["button"][1]["sub_button"][0]["url"] == "https://gh.example.cn/c/x/news"
    assert json.loads(oa_city.wechat.menus[oa_city.app_id]) == body
    for bad in ([], [{"type": "click", "name": "x", "key": "NOPE"}], [{"type": "view", "name": "x", "url": "ftp://x"}],
                [{"name": "x", "sub_button": []}], [{"type": "click", "name": "一二三四五六", "key": "BOOK"}],
                own + own):
        with pytest.raises(Exception) as refused:
            await oa_city.configure_oa(menu=bad)
        assert "menu" in str(refused.value)


async def test_a_wrong_secret_is_reported_without_the_secret(oa_city: OaCity):
    plugins = await oa_city.rt.plugins.for_city(oa_city.city)
    settings = {**plugins.settings("wechat_oa"), "site_url": "https://gh.example.cn/"}
    with pytest.raises(menu.MenuNotPushed) as failed:
        await menu.push(settings, {"app_secret": "wrong-secret-0123456789"}, oa_city.city)
    assert "40125" in str(failed.value) and "wrong-secret-0123456789" not in str(failed.value)
    assert oa_city.app_id not in oa_city.wechat.menus


def test_guahao_wechat_menu_push(env, capsys, wechat_server):  # noqa: F811
    slug = _slug()
    assert main(["city", "create", slug, "公众号市"]) == 0
    assert main(["wechat", "menu", "push", slug]) == 1
    assert "wechat_oa" in capsys.readouterr().err
    app_id, secret = wechat_server.add_app()

    async def enable(rt):
        city = await get_city(rt.db, slug)
        await configure(rt, city, "wechat_oa", settings={
            "app_id": app_id, "endpoint": wechat_server.url, "site_url": f"https://gh.example.cn/c/{slug}/"},
            secrets={"token": "tok123456", "app_secret": secret})

    asyncio.run(_with_runtime(env, enable))
    capsys.readouterr()
    assert main(["wechat", "menu", "push", slug, "--print"]) == 0
    assert app_id not in wechat_server.menus
    assert main(["wechat", "menu", "push", slug]) == 0
    out = capsys.readouterr().out
    assert "菜单已推送" in out and f"https://gh.example.cn/c/{slug}/" in out
    assert json.loads(wechat_server.menus[app_id])["button"][0]["name"] == "预约挂号"
    assert secret not in out


