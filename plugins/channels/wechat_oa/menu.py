"""The account's menu (自定义菜单): the city's ``menu`` setting pushed with WeChat's
``cgi-bin/menu/create``, using the app's shared access token (``plugin_api.wechat``: the same
token the template sender uses, one per app for every process).

``{site}`` in a ``view`` button's url becomes the patient site's address; ``click`` buttons
carry one of :data:`.meta.MENU_KEYS`, answered by :func:`.replies.action`.
"""

from __future__ import annotations

import copy
from typing import Mapping

from guahao.plugin_api import HttpClient, TransportError, shared_redis, wechat

from .meta import DEFAULT_MENU

NAME = "wechat_oa"


class MenuNotPushed(Exception):
    """The menu could not be pushed: what is missing or what WeChat said (no secret in it)."""


def site_of(settings: Mapping, public_base_url: str, city) -> str:
    configured = str(settings.get("site_url") or "")
    if configured:
        return configured if configured.endswith("/") else configured + "/"
    if not public_base_url:
        raise MenuNotPushed("设置患者网站地址 site_url（或平台的 public_base_url）后才能推送含链接的菜单 / "
                            "set site_url (or the platform's public_base_url) first")
    return f"{public_base_url.rstrip('/')}/c/{city.slug}/"


def buttons(settings: Mapping, site: str) -> dict:
    """The ``menu/create`` body of the city's menu, links filled in."""
    menu = copy.deepcopy(list(settings.get("menu") or DEFAULT_MENU))

    def fill(button: dict) -> dict:
        if button.get("type") == "view":
            button["url"] = str(button["url"]).replace("{site}", site)
        for sub in button.get("sub_button") or ():
            fill(sub)
        return button

    return {"button": [fill(b) for b in menu]}


async def push(settings: Mapping, secrets: Mapping, city, *, public_base_url: str = "", redis=None,
               transport=None) -> dict:
    """Push the city's menu to WeChat; the body pushed. Raises :class:`MenuNotPushed`."""
    app_id, secret = str(settings.get("app_id") or ""), str(secrets.get("app_secret") or "")
    if not app_id or not secret:
        raise MenuNotPushed("本市的 wechat_oa 未配置 app_id 和 app_secret / app_id and app_secret are not configured")
    body = buttons(settings, site_of(settings, public_base_url, city))
    endpoint = str(settings.get("endpoint") or "https://api.weixin.qq.com").rstrip("/")
    async with HttpClient.from_settings(NAME, settings, transport=transport, redact=[secret]) as http:
        try:
            await wechat.call(http, endpoint, app_id, secret, "/cgi-bin/menu/create", json=body,
                              redis=redis if redis is not None else shared_redis(), idempotent=True)
        except TransportError as exc:
            raise MenuNotPushed(f"微信拒绝或未应答 / WeChat refused or did not answer: {exc}") from exc
    return body
