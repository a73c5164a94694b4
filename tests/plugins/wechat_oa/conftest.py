"""A city with its official account on a local WeChat: the patient site (``web``), the
account's server (``wechat_oa``), template messages (``wechat_template``) on the same app, and
SMS by the message log (the fallback for members WeChat cannot reach)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from guahao.core.jobs import drain_in_process
from guahao.core.models import Member, Notification
from guahao.core.plugins.manager import configure
from guahao.plugins.channels.wechat_oa.models import WeChatPush
from guahao.tenants.context import use_city
from tests.factories import Catalogue
from tests.fakes.live import LiveServer

from .fake import FakeWeChatServer, WeChatPusher, new_aes_key

WECHAT_UA = ("Mozilla/5.0 (Linux; Android 13; V2148A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/2247 "
             "MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64")
TEMPLATE = "TPL-booking-confirmed"


@pytest.fixture(scope="session")
def wechat_server():
    fake = FakeWeChatServer()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


@dataclass
class OaCity:
    rt: object
    cat: Catalogue
    client: object
    wechat: FakeWeChatServer
    app_id: str
    app_secret: str
    token: str
    aes_key: str

    @property
    def city(self):
        return self.cat.city

    @property
    def callback(self) -> str:
        return f"/c/{self.city.slug}/plugins/wechat_oa/callback"

    def pusher(self, *, safe: bool = False, token: str | None = None, aes_key: str | None = None) -> WeChatPusher:
        return WeChatPusher(self.client, self.callback, token or self.token, self.app_id,
                            (aes_key or self.aes_key) if safe else "")

    def follower(self) -> str:
        """A new WeChat user following the account (WeChat delivers templates to followers only)."""
        openid = "o" + uuid.uuid4().hex[:27]
        self.wechat.openids.add(openid)
        return openid

    async def drain(self) -> int:
        return await drain_in_process(self.rt, city_id=self.city.id)

    async def pushes(self) -> list[WeChatPush]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(select(WeChatPush).order_by(WeChatPush.id))).all())

    async def openid_of(self, member_id: int) -> str | None:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return await s.scalar(select(Member.wechat_openid).where(Member.id == member_id))

    async def notifications(self, member_id: int) -> list[Notification]:
        with use_city(self.city):
            async with self.rt.db.transaction() as s:
                return list((await s.scalars(select(Notification).where(Notification.member_id == member_id)
                                             .order_by(Notification.id))).all())

    async def configure_oa(self, secrets: dict | None = None, **settings) -> None:
        await configure(self.rt, self.city, "wechat_oa", settings={
            "app_id": self.app_id, "endpoint": self.wechat.url, "oauth_endpoint": self.wechat.url, **settings},
            secrets={"token": self.token, "app_secret": self.app_secret, "encoding_aes_key": self.aes_key,
                     **(secrets or {})})


@pytest.fixture
async def oa_city(rt, city, catalogue, client, wechat_server) -> OaCity:
    app_id, app_secret = wechat_server.add_app()
    wechat_server.templates.add(TEMPLATE)
    oa = OaCity(rt, catalogue, client, wechat_server, app_id, app_secret, secrets.token_hex(8), new_aes_key())
    await configure(rt, city, "web")
    await configure(rt, city, "message_log", settings={"channels": ["sms"]})
    await configure(rt, city, "wechat_template", settings={
        "app_id": app_id, "endpoint": wechat_server.url,
        "templates": {"booking_confirmed": {"template_id": TEMPLATE}}}, secrets={"app_secret": app_secret})
    await oa.configure_oa()
    return oa
