"""WeChat Pay's callbacks through the app: signatures, replay window, once-only notifications,
late payments, refund notices (also before the payment notice), refunds on cancellation."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

from guahao.core.booking import service
from guahao.core.models import BookingStatus
from guahao.core.plugins.manager import configure
from guahao.plugins.payments.wechatpay import signing
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city
from guahao.tenants.service import configure_plugin
from tests.factories import make_city
from tests.fakes.wechatpay import new_key

from .conftest import enable_wechatpay


async def paid_notice(pc, booking):
    """Start the booking's Native order and pay it at the fake: the signed notice (body, headers)."""
    intent = await pc.start(booking)
    body, headers = pc.fake.pay(pc.merchant.mchid, intent.reference)
    return body, headers, intent.reference


def refund_no_of(pc, trade_no: str) -> str:
    [refund] = [r for r in pc.merchant.refunds.values() if r["out_trade_no"] == trade_no]
    return refund["out_refund_no"]


async def test_a_paid_notice_within_the_hold_confirms_once(client, pay_city):
    pc = pay_city
    booking = await pc.held_booking()
    body, headers, trade_no = await paid_notice(pc, booking)
    first = await pc.deliver(client, body, headers)
    assert first.status_code == 200 and first.json()["code"] == "SUCCESS" and first.json()["outcome"] == "confirmed"
    again = await pc.deliver(client, body, headers)  # WeChat Pay sends it again
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    after = await pc.booking(booking.id)
    assert (after.status, after.payment_status, after.payment_ref) == (BookingStatus.confirmed, "paid", trade_no)
    kinds = await pc.kinds(booking.id)
    assert kinds.count("paid") == 1 and kinds.count("confirmed") == 1
    [row] = await pc.notifications()
    assert (row.event_type, row.booking_id, row.out_trade_no, row.amount_fen, row.outcome) == (
        "TRANSACTION.SUCCESS", booking.id, trade_no, 5000, "confirmed")
    # The same payment told again under a new notification id changes nothing either.
    body2, headers2 = pc.fake.pay(pc.merchant.mchid, trade_no)
    assert (await pc.deliver(client, body2, headers2)).json()["outcome"] == "duplicate"
    assert (await pc.kinds(booking.id)).count("paid") == 1


async def test_forged_tampered_stale_and_unreadable_notices_change_nothing(client, pay_city):
    pc = pay_city
    booking = await pc.held_booking()
    body, headers, _ = await paid_notice(pc, booking)
    forged = signing.sign_response(body, private_pem=new_key()[0], serial=pc.merchant.public_key_id)
    stale = signing.sign_response(body, private_pem=pc.merchant.platform_private_key, serial=pc.merchant.public_key_id,
                                  timestamp=int(time.time()) - 400)
    future = signing.sign_response(body, private_pem=pc.merchant.platform_private_key, serial=pc.merchant.public_key_id,
                                   timestamp=int(time.time()) + 400)
    tampered = body.replace('"summary": "支付成功"', '"summary": "支付成功!"')
    other_serial = {**headers, "Wechatpay-Serial": "PUB_KEY_ID_SOMEONE_ELSE"}
    cases = [(body, forged, "invalid_signature"), (tampered, headers, "invalid_signature"),
             (body, other_serial, "invalid_signature"), (body, stale, "stale"), (body, future, "stale"),
             (body, {}, "stale"), (body, {**headers, "Wechatpay-Signature": "bm90IGJhc2U2NA=="}, "invalid_signature")]
    for payload, sig, reason in cases:
        r = await pc.deliver(client, payload, sig)
        assert r.status_code == 401 and r.json()["code"] == "FAIL" and r.json()["reason"] == reason, (reason, r.text)
    # Signed correctly, but the resource was encrypted with another APIv3 key.
    envelope = json.loads(body)
    envelope["resource"] = signing.encrypt_resource({"x": 1}, "k" * 32, original_type="transaction",
                                                    associated_data="transaction")
    garbled = json.dumps(envelope)
    sig = signing.sign_response(garbled, private_pem=pc.merchant.platform_private_key, serial=pc.merchant.public_key_id)
    r = await pc.deliver(client, garbled, sig)
    assert r.status_code == 400 and r.json()["reason"] == "invalid_payload"
    # Signed and encrypted correctly, but the resource is not a transaction's shape.
    odd_body, odd_headers = pc.fake.notify(pc.merchant, "TRANSACTION.SUCCESS",
                                           {"mchid": pc.merchant.mchid, "appid": pc.merchant.appid, "trade_state": "SUCCESS",
                                            "out_trade_no": f"{booking.id}_N", "amount": "5000"},
                                           original_type="transaction", summary="支付成功")
    r = await pc.deliver(client, odd_body, odd_headers)
    assert r.status_code == 400 and r.json()["reason"] == "invalid_payload"
    big = "x" * (64 * 1024 + 1)
    r = await pc.deliver(client, big, signing.sign_response(big, private_pem=pc.merchant.platform_private_key,
                                                            serial=pc.merchant.public_key_id))
    assert r.status_code == 413
    assert (await pc.booking(booking.id)).status == BookingStatus.pending_payment
    assert await pc.notifications() == []
    inside = signing.sign_response(body, private_pem=pc.merchant.platform_private_key, serial=pc.merchant.public_key_id,
                                   timestamp=int(time.time()) - 240)  # inside the 5-minute window
    assert (await pc.deliver(client, body, inside)).json()["outcome"] == "confirmed"


async def test_a_payment_after_the_hold_ended_is_refunded(client, pay_city):
    pc = pay_city
    booking = await pc.held_booking()
    intent = await pc.start(booking)
    with frozen(booking.hold_expires_at + timedelta(seconds=1)):
        with use_city(pc.city):
            assert await service.expire_hold(pc.rt, booking.id)
    # The member scans the code before the order is closed.
    body, headers = pc.fake.pay(pc.merchant.mchid, intent.reference)
    r = await pc.deliver(client, body, headers)
    assert r.json()["outcome"] == "refunding"
    assert await pc.run_topic("payment.refund") == ["done"]
    [refund] = pc.merchant.refunds.values()
    assert refund["amount"]["refund"] == 5000 and refund["out_trade_no"] == intent.reference
    assert refund["status"] == "PROCESSING"
    assert (await pc.booking(booking.id)).payment_status == "paid"  # asked for, not yet done
    done_body, done_headers = pc.fake.settle_refund(pc.merchant.mchid, refund["out_refund_no"], "SUCCESS")
    assert (await pc.deliver(client, done_body, done_headers)).json()["outcome"] == "refunded"
    after = await pc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.expired, "refunded")
    assert {"paid_late", "refunded", "refund_succeeded"} <= set(await pc.kinds(booking.id))
    assert await pc.run_topic("payment.void") == ["done"]  # the paid order is not closed


async def test_cancelling_a_paid_booking_refunds_through_the_outbox(client, pay_city):
    pc = pay_city
    booking = await pc.held_booking(2)
    body, headers, trade_no = await paid_notice(pc, booking)
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "confirmed"
    with use_city(pc.city):
        await service.cancel_booking(pc.rt, member_id=booking.member_id, booking_id=booking.id, reason="member")
    [planned] = await pc.outbox("payment.refund")
    assert planned.payload["payment_ref"] == trade_no and planned.payload["amount_fen"] == 5000
    assert not pc.merchant.refunds  # nothing moved inside the booking's transaction
    pc.merchant.fail_next = 1  # WeChat Pay has a bad moment: the job is retried
    assert await pc.run_topic("payment.refund") == ["pending"]
    assert await pc.run_topic("payment.refund") == ["done"]
    [refund] = pc.merchant.refunds.values()
    assert refund["out_refund_no"] == f"{trade_no}-R5000" and refund["amount"]["total"] == 5000
    assert refund["notify_url"] == f"http://testserver{pc.notify_path}"
    [asked] = [e for e in await pc.events(booking.id) if e.kind == "refunded"]
    assert asked.data["status"] == "pending" and asked.data["refund_ref"] == refund["refund_id"]
    done_body, done_headers = pc.fake.settle_refund(pc.merchant.mchid, refund["out_refund_no"], "SUCCESS")
    assert (await pc.deliver(client, done_body, done_headers)).json()["outcome"] == "refunded"
    assert (await pc.deliver(client, done_body, done_headers)).json()["outcome"] == "duplicate"
    after = await pc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.cancelled, "refunded")


async def test_a_refund_that_fails_stays_visible_and_the_fee_still_owed(client, pay_city):
    pc = pay_city
    booking = await pc.held_booking(2)
    body, headers, trade_no = await paid_notice(pc, booking)
    await pc.deliver(client, body, headers)
    with use_city(pc.city):
        await service.cancel_booking(pc.rt, member_id=booking.member_id, booking_id=booking.id, reason="member")
    assert await pc.run_topic("payment.refund") == ["done"]
    body, headers = pc.fake.settle_refund(pc.merchant.mchid, refund_no_of(pc, trade_no), "ABNORMAL")
    r = await pc.deliver(client, body, headers)
    assert r.json()["outcome"] == "refund_failed"
    assert (await pc.booking(booking.id)).payment_status == "paid"
    assert (await pc.kinds(booking.id))[-1] == "refund_failed"


async def test_a_refund_notice_before_the_payment_notice(client, pay_city):
    pc = pay_city
    # (1) The member's return confirmed the payment; the booking is cancelled and refunded;
    # WeChat Pay's delayed payment notice comes after the refund's: nothing changes.
    booking = await pc.held_booking(2)
    pc.merchant.refund_status = "SUCCESS"
    intent = await pc.start(booking)
    pay_body, pay_headers = pc.fake.pay(pc.merchant.mchid, intent.reference)
    assert await pc.check(booking) == "confirmed"
    with use_city(pc.city):
        await service.cancel_booking(pc.rt, member_id=booking.member_id, booking_id=booking.id, reason="member")
    assert await pc.run_topic("payment.refund") == ["done"]
    _, refund_body, refund_headers = pc.merchant.notifications[-1]
    assert (await pc.deliver(client, refund_body, refund_headers)).json()["outcome"] == "refunded"
    assert (await pc.deliver(client, pay_body, pay_headers)).json()["outcome"] == "duplicate"
    after = await pc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.cancelled, "refunded")
    assert (await pc.kinds(booking.id)).count("paid") == 1

    # (2) The platform had not heard of the payment at all when a refund made in the merchant
    # platform was told: the refund notice waits and is applied right after the payment's.
    other = await pc.held_booking(1)
    pay_body, pay_headers, trade_no = await paid_notice(pc, other)
    refund_body, refund_headers = pc.fake.refund_in_merchant_platform(pc.merchant.mchid, trade_no)
    assert (await pc.deliver(client, refund_body, refund_headers)).json()["outcome"] == "early"
    assert (await pc.booking(other.id)).status == BookingStatus.pending_payment
    assert (await pc.deliver(client, pay_body, pay_headers)).json()["outcome"] == "confirmed"
    after = await pc.booking(other.id)
    assert (after.status, after.payment_status) == (BookingStatus.confirmed, "refunded")
    refunded = [e for e in await pc.events(other.id) if e.kind == "refunded"]
    assert len(refunded) == 1 and refunded[0].data["reason"] == "refunded_at_wechatpay"
    assert [n.outcome for n in await pc.notifications() if n.booking_id == other.id] == ["applied", "confirmed"]
    assert await pc.outbox("payment.refund") and await pc.run_topic("payment.refund") == []


async def test_a_wrong_amount_is_refused_and_recorded(client, pay_city):
    pc = pay_city
    booking = await pc.held_booking()
    intent = await pc.start(booking)
    order = pc.merchant.orders[intent.reference]
    order["request"]["amount"]["total"] = 1  # WeChat Pay reports 0.01 yuan paid
    body, headers = pc.fake.pay(pc.merchant.mchid, intent.reference)
    r = await pc.deliver(client, body, headers)
    assert r.status_code == 200 and r.json()["outcome"] == "refused" and "amount_mismatch" in r.json()["detail"]
    assert (await pc.booking(booking.id)).status == BookingStatus.pending_payment
    assert [n.outcome for n in await pc.notifications()] == ["refused"]


async def test_other_events_and_cities_without_keys_or_without_the_plugin(client, rt, pay_city, city):
    pc = pay_city
    body, headers = pc.fake.notify(pc.merchant, "TRANSACTION.CLOSED", {"mchid": pc.merchant.mchid}, original_type="transaction",
                                   summary="关闭")
    r = await pc.deliver(client, body, headers)
    assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    bare = await make_city(rt, f"wx-bare-{uuid.uuid4().hex[:6]}")
    # Stored without its keys (the console refuses that; a damaged row must still fail closed).
    await configure_plugin(rt.db, bare, "wechatpay", enabled=True, settings=pc.merchant.settings(pc.fake.url), secrets={})
    rt.plugins.invalidate(bare.id)
    r = await client.post(f"/c/{bare.slug}/plugins/wechatpay/notify", content=body.encode(), headers=headers)
    assert r.status_code == 400 and r.json() == {"code": "FAIL", "message": r.json()["message"], "reason": "not_configured"}
    await configure(rt, city, "wechatpay", enabled=False)
    assert (await pc.deliver(client, body, headers)).status_code == 404


async def test_without_a_notify_url_a_processing_refund_is_asked_again_until_done(client, rt, pay_city, wechatpay_api):
    pc = pay_city
    await enable_wechatpay(rt, pc.city, wechatpay_api, pc.merchant)  # no notify_url setting
    booking = await pc.held_booking(2)
    body, headers, trade_no = await paid_notice(pc, booking)
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "confirmed"
    with use_city(pc.city):
        await service.cancel_booking(pc.rt, member_id=booking.member_id, booking_id=booking.id, reason="member")
    assert await pc.run_topic("payment.refund") == ["pending"]  # PROCESSING, and no notice will come
    [row] = await pc.outbox("payment.refund")
    assert "still processing" in row.last_error
    [refund] = pc.merchant.refunds.values()
    assert "notify_url" not in refund["request"]
    pc.fake.settle_refund(pc.merchant.mchid, refund["out_refund_no"], "SUCCESS")  # its notice goes nowhere
    assert await pc.run_topic("payment.refund") == ["done"]
    assert len(pc.merchant.refunds) == 1
    after = await pc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.cancelled, "refunded")
