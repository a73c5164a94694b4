"""Online payment in the served demo (``core.demo.practice``): the practice gateways of WeChat
Pay and Alipay are configured and mounted for the embedded demo, and only there."""

from __future__ import annotations

import dataclasses
import uuid

import httpx
import pytest
from sqlalchemy import select

from guahao.core.app import create_app
from guahao.core.demo import data, seed_demo
from guahao.core.demo.practice import PracticeMounts, embedded, open_practice_payments
from guahao.core.models import Hospital
from guahao.core.plugins.config import check as config_check
from guahao.core.plugins.hospital import hospital_configs
from guahao.plugin_api import TransportError
from guahao.plugins.payments.alipay.gateway import Gateway
from guahao.plugins.payments.wechatpay.client import WeChatPayClient
from guahao.tenants.context import use_city
from guahao.tenants.service import enabled_plugins, get_city

BASE = "http://demo.test:8123"


@pytest.fixture(scope="module")
async def demo_city(rt):
    report = await seed_demo(rt, slug=f"pr{uuid.uuid4().hex[:6]}", days=1, history_days=0)
    return report.city


def _embedded(rt):
    """``rt`` as the embedded demo sees it: on PostgreSQL the runtime is a production server's
    (practice gateways refused), so the configuration is tested with its database and plugins
    under settings that say SQLite without Redis."""
    if embedded(rt.settings):
        return rt
    demo = dataclasses.replace(rt.settings, database_url="sqlite+aiosqlite:///unused.sqlite3", redis_url="",
                               environment="")
    assert embedded(demo)
    return _Settled(rt, demo)


class _Settled:
    """A runtime with other settings: everything else is ``rt``'s."""

    def __init__(self, rt, settings):
        self._rt, self.settings = rt, settings

    def __getattr__(self, name):
        return getattr(self._rt, name)


async def _hospitals(rt, city) -> dict[str, Hospital]:
    with use_city(city):
        async with rt.db.transaction() as s:
            return {h.code: h for h in (await s.scalars(select(Hospital))).all()}


async def test_the_embedded_demo_takes_wechat_pay_and_alipay_through_its_own_gateways(rt, demo_city):
    if rt.settings.is_postgres:
        assert await open_practice_payments(rt, demo_city, BASE) == {}  # not the embedded demo
    apps = await open_practice_payments(_embedded(rt), demo_city, BASE)
    assert sorted(apps) == ["alipay", "wechatpay"]
    city = await get_city(rt.db, demo_city.slug)

    plugins = await enabled_plugins(rt.db, city)
    assert {"pay_at_hospital", "wechatpay", "alipay"} <= set(plugins)
    for name in ("wechatpay", "alipay"):  # the settings fit each plugin's declaration
        config_check(rt.plugins, name, plugins[name]["settings"], enabled=True, stored_secrets=plugins[name]["secrets"])
    assert plugins["wechatpay"]["settings"]["api_base"] == f"{BASE}/practice/wechatpay"
    assert plugins["alipay"]["settings"]["gateway"] == f"{BASE}/practice/alipay/gateway.do"

    # The listed hospitals pay online, each on a merchant account of its own, which decides the
    # provider; the others still pay at the hospital.
    hospitals = await _hospitals(rt, city)
    own = await hospital_configs(rt.db, city)
    city_plugins = await rt.plugins.for_city(city)
    online = {code: plugin for plugin, codes in data.PRACTICE_PAYMENTS.items() for code in codes}
    for code, hospital in hospitals.items():
        if code in online:
            assert hospital.payment_mode == "online"
            assert city_plugins.hospital_payment_provider(hospital.id) == online[code]
            mine = own[online[code]][hospital.id]
            assert "private_key" in mine["secrets"] or "app_private_key" in mine["secrets"]
        else:
            assert hospital.payment_mode == "at_hospital"
            assert city_plugins.hospital_payment_provider(hospital.id) == ""
    wx = city_plugins.settings("wechatpay", hospitals["SY06"].id)
    assert wx["mchid"] != city_plugins.settings("wechatpay")["mchid"]  # the hospital's own merchant

    # Served under /practice/… of the demo's site, the gateways answer the plugins' own signed
    # calls (an unknown order is the gateway's business answer, not a signature failure).
    site = PracticeMounts(create_app(rt.settings, runtime=rt), apps)
    transport = httpx.ASGITransport(app=site)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        for plugin, heading in (("wechatpay", "微信支付 · 练习网关"), ("alipay", "支付宝 · 练习网关")):
            page = await client.get(f"/practice/{plugin}/")
            assert page.status_code == 200 and heading in page.text
        assert (await client.get("/healthz")).status_code == 200  # the platform answers the rest
    with use_city(city):
        async with WeChatPayClient(wx, city_plugins.secrets("wechatpay", hospitals["SY06"].id),
                                   transport=transport) as api:
            with pytest.raises(TransportError) as refused:
                await api.json("GET", "/v3/pay/transactions/out-trade-no/NOPE_N", query={"mchid": wx["mchid"]})
        assert refused.value.code == "ORDER_NOT_EXIST"
        ali = city_plugins.settings("alipay", hospitals["SY07"].id)
        gateway = Gateway(ali, city_plugins.secrets("alipay", hospitals["SY07"].id), transport=transport)
        answer = await gateway.call("alipay.trade.query", {"out_trade_no": "GH1_NOPE"}, ok=("ACQ.TRADE_NOT_EXIST",))
        assert answer["sub_code"] == "ACQ.TRADE_NOT_EXIST"  # a signed answer, verified with the app's keys

    # A new start makes new keys and writes them over the old ones.
    await open_practice_payments(_embedded(rt), city, BASE)
    again = await enabled_plugins(rt.db, await get_city(rt.db, city.slug))
    assert again["wechatpay"]["secrets"]["private_key"] != plugins["wechatpay"]["secrets"]["private_key"]


async def test_practice_gateways_are_not_mounted_beyond_the_embedded_demo(rt, city):
    production = dataclasses.replace(rt.settings, environment="production")
    assert not embedded(production)
    before = await enabled_plugins(rt.db, city)
    stand_in = _Settled(rt, production)
    assert await open_practice_payments(stand_in, city, BASE) == {}
    assert await enabled_plugins(rt.db, city) == before  # nothing configured

    # `guahao serve` builds the platform's app alone: no practice gateway behind it.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(rt.settings, runtime=rt)),
                                 base_url=BASE) as client:
        for plugin in ("wechatpay", "alipay"):
            assert (await client.get(f"/practice/{plugin}/")).status_code == 404
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=PracticeMounts(create_app(rt.settings, runtime=rt), {})),
                                 base_url=BASE) as client:
        assert (await client.get("/practice/wechatpay/")).status_code == 404
