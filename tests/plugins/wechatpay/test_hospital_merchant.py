"""A hospital that takes the fees on its own WeChat Pay merchant account: its orders, refunds
and notifications use its keys, the city's merchant cannot speak for its bookings."""

from __future__ import annotations

from guahao.core.audit import Actor
from guahao.core.booking import service
from guahao.core.models import BookingStatus
from guahao.core.plugins.hospital import configure_hospital_plugin
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve

ADMIN = Actor("staff", 9, name="市管理员", role="city_admin")


async def test_a_hospitals_own_merchant_account(client, rt, pay_city, wechatpay_api):
    pc = pay_city
    own = pc.cat  # the city's hospital takes its fees on its own account
    merchant = wechatpay_api.add_merchant()
    settings = {k: v for k, v in merchant.settings(wechatpay_api.url).items() if k != "api_base"}
    with use_city(pc.city):
        async with rt.db.transaction() as s:
            await configure_hospital_plugin(s, ADMIN, own.hospital.id, "wechatpay", settings=settings,
                                            secrets=merchant.secrets(), host=rt.plugins)
    rt.plugins.invalidate(pc.city.id)

    period = own.periods[own.sessions[2].id][0]
    booking = await reserve(rt, pc.city, await make_member(rt, pc.city), period.id)
    intent = await pc.start(booking)
    assert intent.reference in merchant.orders and not pc.merchant.orders  # the hospital's merchant
    assert merchant.orders[intent.reference]["request"]["mchid"] == merchant.mchid

    # The city's merchant saying the hospital's order was paid is not believed.
    forged_order = dict(merchant.orders[intent.reference])
    pc.merchant.orders[intent.reference] = forged_order
    body, headers = wechatpay_api.pay(pc.merchant.mchid, intent.reference)
    r = await pc.deliver(client, body, headers)
    assert r.json()["outcome"] == "refused" and "another merchant" in r.json()["detail"]
    assert (await pc.booking(booking.id)).status == BookingStatus.pending_payment

    body, headers = wechatpay_api.pay(merchant.mchid, intent.reference)  # signed with the hospital's keys
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "confirmed"
    with use_city(pc.city):
        await service.cancel_booking(rt, member_id=booking.member_id, booking_id=booking.id, reason="member")
    assert await pc.run_topic("payment.refund") == ["done"]
    [refund] = merchant.refunds.values()
    body, headers = wechatpay_api.settle_refund(merchant.mchid, refund["out_refund_no"], "SUCCESS")
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "refunded"
    assert (await pc.booking(booking.id)).payment_status == "refunded"
    assert not pc.merchant.refunds
