"""The WeChat Pay provider against the local fake, with the platform's real client: Native,
H5 and JSAPI orders, the member's return, closing an expired hold's order."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from guahao.core.booking import service
from guahao.core.errors import DomainError
from guahao.core.models import BookingStatus
from guahao.core.plugins.manager import configure
from guahao.plugins.payments.wechatpay import signing
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city

from .conftest import RETURN, enable_wechatpay


async def test_a_native_order_gives_a_qr_code_and_a_retry_gives_the_same_order(pay_city):
    pc = pay_city
    booking = await pc.held_booking()
    first = await pc.start(booking)
    again = await pc.start(booking)  # a double click
    assert first.reference == again.reference == f"{booking.id}_N"
    assert first.data["qr_url"] == again.data["qr_url"] and first.data["qr_url"].startswith(pc.fake.url + "/pay/")
    assert first.redirect_url is None and first.online and first.amount_fen == booking.fee_fen == 5000
    [order] = pc.merchant.orders.values()
    sent = order["request"]
    assert sent["amount"] == {"total": 5000, "currency": "CNY"} and sent["mchid"] == pc.merchant.mchid
    assert sent["notify_url"] == f"http://testserver/c/{pc.city.slug}/plugins/wechatpay/notify"
    assert "王建国" in sent["description"] and sent["attach"] == f"{pc.city.slug}:{booking.id}"
    assert sent["time_expire"].endswith("+08:00")
    stored = await pc.booking(booking.id)
    assert (stored.payment_provider, stored.payment_ref) == ("wechatpay", first.reference)
    assert (await pc.kinds(booking.id)).count("payment_started") == 1


async def test_h5_in_a_mobile_browser_and_jsapi_inside_wechat(pay_city):
    pc = pay_city
    booking = await pc.held_booking()
    h5 = await pc.start(booking, RETURN + "?pay_client=mobile&pay_ip=203.0.113.9")
    assert h5.reference == f"{booking.id}_H" and "qr_url" not in h5.data
    assert h5.redirect_url.startswith(pc.fake.url + "/pay/") and "prepay_id=" in h5.redirect_url
    assert h5.redirect_url.endswith("&redirect_url=" + "http%3A%2F%2Ftestserver%2Fc%2Fx%2Fbookings%2FB%2Fpaid")
    assert pc.merchant.orders[h5.reference]["request"]["scene_info"] == {
        "payer_client_ip": "203.0.113.9", "h5_info": {"type": "Wap"}}

    other = await pc.held_booking(1)
    js = await pc.start(other, RETURN + "?pay_client=wechat&pay_openid=o_member_1")
    assert js.reference == f"{other.id}_J" and js.redirect_url is None
    params = js.data["jsapi"]
    order = pc.merchant.orders[js.reference]
    assert order["request"]["payer"] == {"openid": "o_member_1"}
    assert params["package"] == f"prepay_id={order['prepay_id']}" and params["appId"] == pc.merchant.appid
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n"
    assert signing.rsa_verify(pc.merchant.public_key, message, params["paySign"])
    assert params["signType"] == "RSA" and base64.b64decode(params["paySign"])
    assert js.data["return_url"] == RETURN  # the hints never leave the platform
    # Inside WeChat but without an openid: a QR code it is.
    third = await pc.held_booking(2)
    assert (await pc.start(third, RETURN + "?pay_client=wechat")).data["qr_url"]


async def test_the_members_return_asks_wechat_pay(pay_city):
    pc = pay_city
    booking = await pc.held_booking()
    intent = await pc.start(booking)
    assert await pc.check(booking) is None  # not paid yet
    pc.fake.pay(pc.merchant.mchid, intent.reference)
    pc.merchant.fail_next = 1
    assert await pc.check(booking) is None  # WeChat Pay cannot say right now: still waiting, no error
    assert await pc.check(booking) == "confirmed"
    after = await pc.booking(booking.id)
    assert (after.status, after.payment_status, after.payment_ref) == (BookingStatus.confirmed, "paid", intent.reference)


async def test_wrong_keys_or_an_ended_hold_open_no_order(rt, pay_city, wechatpay_api):
    pc = pay_city
    booking = await pc.held_booking()
    with frozen(booking.hold_expires_at + timedelta(seconds=1)):
        with pytest.raises(DomainError) as err:
            await pc.start(booking)
    assert err.value.code == "hold_expired"
    stranger = wechatpay_api.add_merchant()  # keys the fake does not know for this mchid
    await enable_wechatpay(rt, pc.city, wechatpay_api, pc.merchant, cert_serial_no=stranger.serial_no)
    with pytest.raises(DomainError) as err:
        await pc.start(await pc.held_booking(1))
    assert err.value.code == "payment_unavailable" and err.value.status == 402
    assert not pc.merchant.orders


async def test_an_answer_with_a_bad_signature_is_not_believed(rt, pay_city, wechatpay_api):
    pc = pay_city
    other = wechatpay_api.add_merchant()  # WeChat Pay's key of another merchant
    await configure(rt, pc.city, "wechatpay", settings=pc.merchant.settings(wechatpay_api.url),
                    secrets={"platform_public_key": other.platform_public_key})
    with pytest.raises(DomainError) as err:
        await pc.start(await pc.held_booking())
    assert err.value.code == "payment_unavailable"
    assert len(pc.merchant.orders) == 1  # the order was made; its answer was refused


async def test_an_expired_hold_closes_its_order(pay_city):
    pc = pay_city
    booking = await pc.held_booking()
    intent = await pc.start(booking)
    with frozen(booking.hold_expires_at + timedelta(seconds=1)):
        with use_city(pc.city):
            assert await service.expire_hold(pc.rt, booking.id)
    assert await pc.run_topic("payment.void") == ["done"]
    assert pc.merchant.orders[intent.reference]["trade_state"] == "CLOSED"
    closes = [r for r in pc.merchant.requests if r[1].endswith("/close")]
    assert len(closes) == 1 and json.loads(closes[0][2]) == {"mchid": pc.merchant.mchid}


async def test_without_a_notify_address_no_order_is_made(pay_city, rt, wechatpay_api):
    pc = pay_city
    await enable_wechatpay(rt, pc.city, wechatpay_api, pc.merchant)  # no notify_url setting
    with pytest.raises(DomainError) as err:
        await pc.start(await pc.held_booking(), return_url="/c/x/bookings/B/paid")  # and no site address
    assert err.value.code == "payment_unavailable" and not pc.merchant.orders


async def test_an_answer_without_its_link_opens_no_payment(pay_city):
    pc = pay_city
    booking = await pc.held_booking()
    first = await pc.start(booking)
    pc.merchant.orders[first.reference]["answer"] = {}  # WeChat Pay answers the repeated order without code_url
    with pytest.raises(DomainError) as err:
        await pc.start(booking)
    assert err.value.code == "payment_unavailable"
