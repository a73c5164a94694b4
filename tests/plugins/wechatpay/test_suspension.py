"""A hospital suspends a session (停诊) of 50 bookings paid with WeChat Pay: every fee goes
back through the outbox, once, and the refund notices settle every booking."""

from __future__ import annotations

from guahao.core.audit import Actor
from guahao.core.backoffice import changes
from guahao.core.models import BookingStatus
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve
from tests.factories import make_catalogue

from .conftest import PayCity, enable_wechatpay

PAID = 50


async def test_a_suspension_refunds_fifty_paid_bookings(client, rt, city, wechatpay_api):
    cat = await make_catalogue(rt, city, payment_mode="online", periods=1, capacity=PAID)
    merchant = wechatpay_api.add_merchant()
    await enable_wechatpay(rt, city, wechatpay_api, merchant, notify_url=f"http://testserver/c/{city.slug}/plugins/wechatpay/notify")
    pc = PayCity(rt, cat, merchant, wechatpay_api)
    session = cat.sessions[2]
    period = cat.periods[session.id][0]
    refs = []
    for _ in range(PAID):
        booking = await reserve(rt, city, await make_member(rt, city), period.id)
        intent = await pc.start(booking)
        body, headers = wechatpay_api.pay(merchant.mchid, intent.reference)
        assert (await pc.deliver(client, body, headers)).json()["outcome"] == "confirmed"
        refs.append(booking.id)

    with use_city(city):
        await changes.suspend(rt, session.id, reason="医生临时外出会诊",
                              actor=Actor("staff", 7, name="排班员小李", role="hospital_scheduler"))
    planned = await pc.outbox("payment.refund")
    assert sorted(m.payload["booking_id"] for m in planned) == sorted(refs)
    merchant.fail_next = 3  # WeChat Pay stumbles on the first three: those jobs are retried
    first = await pc.run_topic("payment.refund")
    assert first.count("pending") == 3 and first.count("done") == PAID - 3
    assert await pc.run_topic("payment.refund") == ["done"] * 3
    assert await pc.run_topic("payment.refund") == []
    assert len(merchant.refunds) == PAID
    assert {r["amount"]["refund"] for r in merchant.refunds.values()} == {5000}

    for refund_no in list(merchant.refunds):
        body, headers = wechatpay_api.settle_refund(merchant.mchid, refund_no, "SUCCESS")
        assert (await pc.deliver(client, body, headers)).json()["outcome"] == "refunded"
    for ref in refs:
        after = await pc.booking(ref)
        assert (after.status, after.payment_status, after.cancel_reason) == (
            BookingStatus.cancelled, "refunded", "session_suspended")
