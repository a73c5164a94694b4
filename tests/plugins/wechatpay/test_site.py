"""The patient site pays through WeChat Pay: a QR code on a computer (with its poll), WeChat
Pay's H5 page on a phone, WeChat's own sheet inside WeChat."""

from __future__ import annotations

import json
import re

import httpx
from sqlalchemy import select

from guahao.core.models import Member
from guahao.core.plugins.manager import configure
from guahao.plugins.channels.web import paying
from guahao.tenants.context import use_city
from tests.plugins.web.conftest import Visitor, csrf_of

PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
WECHAT = PHONE + " MicroMessenger/8.0.50(0x1800323c) NetType/WIFI Language/zh_CN"


async def booked(client, pc, session_index: int = 2, *, phone: str = "13800138000") -> tuple[Visitor, str]:
    await configure(pc.rt, pc.city, "web")
    visitor = Visitor(client, pc.city.slug)
    assert (await visitor.register(phone=phone)).status_code == 303
    period = pc.cat.periods[pc.cat.sessions[session_index].id][0]
    done = await visitor.book(period.id)
    ref = re.search(r"bookings/([^/]+)/pay$", done.headers["location"]).group(1)
    return visitor, ref


async def test_a_computer_gets_a_qr_code_and_the_page_follows_the_callback(client, pay_city):
    pc = pay_city
    visitor, ref = await booked(client, pc)
    page = await visitor.get(f"bookings/{ref}/pay")
    shown = await visitor.client.post(visitor.root + f"bookings/{ref}/pay", data={"csrf": csrf_of(page.text)})
    assert shown.status_code == 200 and 'id="qr"' in shown.text and "<svg" in shown.text
    assert "支付完成后本页自动更新" in shown.text and "¥50.00" in shown.text and 'data-provider="wechatpay"' in shown.text
    poll = f"bookings/{ref}/paid?poll=1"
    assert f'hx-get="{visitor.root}{poll}"' in shown.text
    assert (await visitor.get(poll)).status_code == 204  # not paid yet: the page stays
    [order] = pc.merchant.orders.values()
    assert order["trade_type"] == "NATIVE" and "pay_" not in json.dumps(order["request"])
    assert str(paying.qr_svg(order["answer"]["code_url"])) in shown.text  # the code is WeChat Pay's code_url
    body, headers = pc.fake.pay(pc.merchant.mchid, f"{ref}_N")
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "confirmed"
    moved = await visitor.get(poll)
    assert moved.status_code == 200 and moved.headers["HX-Redirect"] == f"{visitor.root}bookings/{ref}/paid"
    landed = await visitor.get(f"bookings/{ref}/paid")
    assert 'data-state="paid"' in landed.text


async def test_a_phone_goes_to_wechat_pays_h5_page_and_comes_back(client, pay_city):
    pc = pay_city
    visitor, ref = await booked(client, pc)
    page = await visitor.get(f"bookings/{ref}/pay", headers={"User-Agent": PHONE})
    go = await visitor.client.post(visitor.root + f"bookings/{ref}/pay", data={"csrf": csrf_of(page.text)},
                                   headers={"User-Agent": PHONE})
    assert go.status_code == 303 and go.headers["location"].startswith(pc.fake.url + "/pay/")
    order = pc.merchant.orders[f"{ref}_H"]
    assert order["request"]["scene_info"]["payer_client_ip"] == "127.0.0.1"
    async with httpx.AsyncClient() as phone:  # the member on WeChat Pay's page
        cashier = await phone.get(go.headers["location"])
        assert "¥50.00" in cashier.text
        done = await phone.post(go.headers["location"])
    assert done.status_code == 303
    assert done.headers["location"] == f"http://testserver/c/{pc.city.slug}/bookings/{ref}/paid"
    landed = await visitor.get(f"bookings/{ref}/paid")  # the callback could not reach testserver: the return asks
    assert 'data-state="paid"' in landed.text


async def test_inside_wechat_a_member_with_an_openid_pays_in_wechats_sheet(client, pay_city):
    pc = pay_city
    visitor, ref = await booked(client, pc)
    with use_city(pc.city):
        async with pc.rt.db.transaction() as s:
            member = await s.scalar(select(Member).where(Member.phone == "13800138000"))
            member.wechat_openid = "o_wechat_member"
    page = await visitor.get(f"bookings/{ref}/pay", headers={"User-Agent": WECHAT})
    sheet = await visitor.client.post(visitor.root + f"bookings/{ref}/pay", data={"csrf": csrf_of(page.text)},
                                      headers={"User-Agent": WECHAT})
    assert sheet.status_code == 200 and 'id="jsapi"' in sheet.text and "wechat-jsapi.js" in sheet.text
    params = json.loads(re.search(r'id="jsapi-params">(.*?)</script>', sheet.text).group(1))
    order = pc.merchant.orders[f"{ref}_J"]
    assert params["package"] == f"prepay_id={order['prepay_id']}" and params["signType"] == "RSA"
    assert order["request"]["payer"] == {"openid": "o_wechat_member"}
    assert (await visitor.get("assets/wechat-jsapi.js")).status_code == 200


async def test_the_kiosk_shows_a_scannable_qr_code(client, pay_city):
    from tests.plugins.web.conftest import KEY, bound_kiosk

    pc = pay_city
    await configure(pc.rt, pc.city, "web")
    assert (await Visitor(client, pc.city.slug).register()).status_code == 303
    kiosk = await bound_kiosk(client, pc.rt, pc.cat)
    await kiosk.log_in()
    period = pc.cat.periods[pc.cat.sessions[2].id][0]
    page = await kiosk.get(f"book/{period.id}")
    booked = await kiosk.client.post(kiosk.root + f"book/{period.id}",
                                     data={"csrf": csrf_of(page.text), "key": KEY.search(page.text).group(1)})
    assert booked.status_code == 303 and booked.headers["location"].endswith("/pay")
    ref = re.search(r"bookings/([^/]+)/pay$", booked.headers["location"]).group(1)
    page = await kiosk.get(f"bookings/{ref}/pay")
    shown = await kiosk.client.post(kiosk.root + f"bookings/{ref}/pay", data={"csrf": csrf_of(page.text)},
                                    headers={"User-Agent": PHONE})  # a kiosk's browser may look like a tablet
    assert shown.status_code == 200 and 'id="qr"' in shown.text and "<svg" in shown.text and "¥50.00" in shown.text
    assert "支付完成后本页自动更新" in shown.text and "htmx.min.js" in shown.text
    assert pc.merchant.orders[f"{ref}_N"]["trade_type"] == "NATIVE"
    assert str(paying.qr_svg(pc.merchant.orders[f"{ref}_N"]["answer"]["code_url"])) in shown.text
    assert (await kiosk.get(f"bookings/{ref}/paid?poll=1")).status_code == 204
    body, headers = pc.fake.pay(pc.merchant.mchid, f"{ref}_N")
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "confirmed"
    moved = await kiosk.get(f"bookings/{ref}/paid?poll=1")
    assert moved.headers["HX-Redirect"] == f"{kiosk.root}bookings/{ref}/paid"
    assert 'data-state="paid"' in (await kiosk.get(f"bookings/{ref}/paid")).text
