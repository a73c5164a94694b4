"""Alipay's notify through the app: RSA2 signatures, once-only notifies, APPID and amount
checks, payments after the hold, refund notices in any order, body size."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from guahao.core.booking import service
from guahao.core.models import BookingStatus
from guahao.core.plugins.manager import configure
from guahao.plugins.payments.alipay.models import AlipayNotify
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city

from .test_payments import open_cashier, run_topic, start


def url(ac) -> str:
    return f"/c/{ac.city.slug}/plugins/alipay/notify"


async def deliver(client, ac, fields: dict):
    return await client.post(url(ac), data=fields)


async def paid_trade(ac, alipay_api, booking) -> tuple[dict, str]:
    """Start the booking's payment, open the cashier and pay; returns the payment notify and trade."""
    intent = await start(ac, booking)
    async with httpx.AsyncClient() as browser:
        await browser.get(intent.data["page_url"])
    alipay_api.pay(ac.account.app_id, intent.reference)
    fields, notify_url = ac.account.notifies[-1]
    assert notify_url == f"http://testserver{url(ac)}" and fields["trade_status"] == "TRADE_SUCCESS"
    return fields, intent.reference


async def stored(ac) -> list[AlipayNotify]:
    with use_city(ac.city):
        async with ac.rt.db.transaction() as s:
            return list((await s.scalars(select(AlipayNotify).order_by(AlipayNotify.id))).all())


def resigned(alipay_api, ac, fields: dict, **changes) -> dict:
    """The notify with ``changes``, signed again with the fake Alipay's key (a genuine notify)."""
    return alipay_api.send(ac.account, {**fields, **changes})


async def test_a_signed_payment_notify_confirms_once(client, alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking()
    fields, trade = await paid_trade(ac, alipay_api, booking)
    first = await deliver(client, ac, fields)
    assert (first.status_code, first.text) == (200, "success")
    again = await deliver(client, ac, fields)  # Alipay sends it again
    assert (again.status_code, again.text) == (200, "success")
    after = await ac.booking(booking.id)
    assert (after.status, after.payment_status, after.payment_ref) == (BookingStatus.confirmed, "paid", trade)
    kinds = [e.kind for e in await ac.events(booking.id)]
    assert kinds.count("paid") == 1 and kinds.count("confirmed") == 1
    [row] = await stored(ac)
    assert (row.notify_id, row.booking_id, row.outcome, row.trade_status) == (
        fields["notify_id"], booking.id, "confirmed", "TRADE_SUCCESS")
    assert row.trade_no == fields["trade_no"]
    # TRADE_FINISHED later (the trade can no longer be refunded) changes nothing.
    finished = resigned(alipay_api, ac, fields, notify_id="finished-1", trade_status="TRADE_FINISHED")
    assert (await deliver(client, ac, finished)).text == "success"
    assert [r.outcome for r in await stored(ac)] == ["confirmed", "duplicate"]


async def test_forged_tampered_or_unsigned_notifies_change_nothing(client, alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking()
    fields, _ = await paid_trade(ac, alipay_api, booking)
    impostor = alipay_api.add_account()  # signed, but with a key that is not Alipay's for this city
    forged = alipay_api.send(impostor, {**fields, "app_id": ac.account.app_id})
    tampered = {**fields, "total_amount": "0.01"}
    unsigned = {k: v for k, v in fields.items() if k != "sign"}
    wrong_type = {**fields, "sign_type": "RSA"}
    for body in (forged, tampered, unsigned, wrong_type):
        r = await deliver(client, ac, body)
        assert (r.status_code, r.text, r.headers["x-error-code"]) == (400, "fail", "invalid_signature")
    r = await client.post(url(ac), content=b"\xff\xfe not a form", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.text) == (400, "fail")
    r = await client.post(url(ac), content=b"a=" + b"x" * 40_000, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (r.status_code, r.text, r.headers["x-error-code"]) == (413, "fail", "payload_too_large")
    assert (await ac.booking(booking.id)).status == BookingStatus.pending_payment
    assert await stored(ac) == []
    assert (await deliver(client, ac, fields)).text == "success"  # the genuine one still works
    assert (await ac.booking(booking.id)).status == BookingStatus.confirmed


async def test_a_wrong_app_id_or_amount_is_refused_and_kept(client, alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking()
    fields, _ = await paid_trade(ac, alipay_api, booking)
    other_app = resigned(alipay_api, ac, fields, notify_id="n-app", app_id="2021009999999999")
    wrong_amount = resigned(alipay_api, ac, fields, notify_id="n-amount", total_amount="0.50")
    for body, code in ((other_app, "wrong_app_id"), (wrong_amount, "amount_mismatch")):
        r = await deliver(client, ac, body)
        assert (r.status_code, r.text, r.headers["x-error-code"]) == (409, "fail", code)
        again = await deliver(client, ac, body)  # Alipay tries again: still refused
        assert (again.status_code, again.text) == (409, "fail")
    assert (await ac.booking(booking.id)).status == BookingStatus.pending_payment
    assert [(r.notify_id, r.outcome) for r in await stored(ac)] == [("n-app", "refused"), ("n-amount", "refused")]
    assert "amount_mismatch" in (await stored(ac))[1].detail


async def test_other_states_and_other_trades_are_acknowledged(client, alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking()
    fields, _ = await paid_trade(ac, alipay_api, booking)
    waiting = resigned(alipay_api, ac, fields, notify_id="n-wait", trade_status="WAIT_BUYER_PAY")
    closed = resigned(alipay_api, ac, fields, notify_id="n-closed", trade_status="TRADE_CLOSED")
    foreign = resigned(alipay_api, ac, fields, notify_id="n-foreign", out_trade_no=f"GH{ac.city.id + 1000}_ABCDE23456")
    for body in (waiting, closed, foreign):
        assert (await deliver(client, ac, body)).text == "success"
    assert (await ac.booking(booking.id)).status == BookingStatus.pending_payment
    assert [r.outcome for r in await stored(ac)] == ["ignored"] * 3


async def test_a_payment_after_the_hold_ended_is_refunded(client, alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking()
    fields, trade = await paid_trade(ac, alipay_api, booking)
    with frozen(booking.hold_expires_at + timedelta(seconds=1)):
        r = await deliver(client, ac, fields)  # the notify arrives after the hold ran out
    assert r.text == "success"
    assert [row.outcome for row in await stored(ac)] == ["refunding"]
    assert await run_topic(ac, "payment.refund") == ["done"]
    [refund] = ac.account.refunds.values()
    assert refund["fen"] == 5000 and refund["out_trade_no"] == trade
    after = await ac.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.expired, "refunded")
    assert {"paid_late", "refunded"} <= {e.kind for e in await ac.events(booking.id)}
    # Alipay's refund notice (TRADE_CLOSED, refund_fee) settles it; the platform asked for it.
    refund_notice, _ = ac.account.notifies[-1]
    assert refund_notice["trade_status"] == "TRADE_CLOSED" and refund_notice["refund_fee"] == "50.00"
    assert (await deliver(client, ac, refund_notice)).text == "success"
    assert [e.kind for e in await ac.events(booking.id)].count("refund_succeeded") == 1
    assert (await ac.booking(booking.id)).payment_status == "refunded"


async def test_a_refund_notice_before_the_payment_notice(client, alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking(2)
    fields, trade = await paid_trade(ac, alipay_api, booking)
    # Refunded in Alipay's merchant console before the payment notice reached us.
    with use_city(ac.city):
        plugins = await ac.rt.plugins.for_city(ac.city)
        await plugins.payment_provider("alipay").refund(await ac.booking(booking.id), 5000, plugins.settings("alipay"),
                                                        plugins.secrets("alipay"), out_request_no="console-1")
    refund_notice, _ = ac.account.notifies[-1]
    assert refund_notice["out_biz_no"] == "console-1"
    assert (await deliver(client, ac, refund_notice)).text == "success"
    after = await ac.booking(booking.id)
    assert (after.status, after.payment_status, after.payment_ref) == (BookingStatus.confirmed, "refunded", trade)
    [recorded] = [e for e in await ac.events(booking.id) if e.kind == "refunded"]
    assert recorded.data["reason"] == "refunded_at_alipay" and recorded.data["amount_fen"] == 5000
    assert (await deliver(client, ac, fields)).text == "success"  # the payment notice, late: nothing more
    assert [r.outcome for r in await stored(ac)] == ["refunded", "duplicate"]
    # Cancelling afterwards gives nothing back a second time.
    with use_city(ac.city):
        await service.cancel_booking(ac.rt, member_id=booking.member_id, booking_id=booking.id)
    assert await run_topic(ac, "payment.refund") == []
    assert len(ac.account.refunds) == 1


async def test_partial_refund_notices_keep_the_booking_paid(client, alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking(2)
    fields, trade = await paid_trade(ac, alipay_api, booking)
    assert (await deliver(client, ac, fields)).text == "success"
    with use_city(ac.city):
        plugins = await ac.rt.plugins.for_city(ac.city)
        provider = plugins.payment_provider("alipay")
        await provider.refund(await ac.booking(booking.id), 2000, plugins.settings("alipay"), plugins.secrets("alipay"))
    partial, _ = ac.account.notifies[-1]
    assert partial["trade_status"] == "TRADE_SUCCESS" and partial["refund_fee"] == "20.00"
    assert (await deliver(client, ac, partial)).text == "success"
    assert (await deliver(client, ac, partial)).text == "success"
    after = await ac.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.confirmed, "paid")
    assert [r.outcome for r in await stored(ac)] == ["confirmed", "partly_refunded"]
    [part] = [e for e in await ac.events(booking.id) if e.kind == "refund_succeeded"]
    assert part.data["refunded_fen"] == 2000 and part.data["payment_ref"] == trade


async def test_cities_without_alipay_or_keys_accept_nothing(client, rt, alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking()
    fields, _ = await paid_trade(ac, alipay_api, booking)
    await configure(rt, ac.city, "alipay", enabled=False)
    assert (await deliver(client, ac, fields)).status_code == 404
    assert (await ac.booking(booking.id)).status == BookingStatus.pending_payment


async def test_a_hospital_with_its_own_merchant_account(client, rt, alipay_city, alipay_api):
    from guahao.core.audit import SYSTEM
    from guahao.core.plugins.hospital import configure_hospital_plugin
    from guahao.tenants.service import get_city

    ac = alipay_city
    own = alipay_api.add_account()
    with use_city(ac.city):
        async with rt.db.transaction() as s:
            await configure_hospital_plugin(s, SYSTEM, ac.cat.hospital.id, "alipay", host=rt.plugins,
                                            settings={"app_id": own.app_id}, secrets=own.secrets())
    ac.cat.city = await get_city(rt.db, ac.city.slug)
    booking = await ac.held_booking()
    intent = await start(ac, booking)
    await open_cashier(alipay_api, intent.redirect_url)
    assert intent.reference in own.trades and intent.reference not in ac.account.trades  # the hospital's app
    alipay_api.pay(own.app_id, intent.reference)
    fields, _ = own.notifies[-1]
    # Signed with the city's Alipay key, the notify for the hospital's trade is not believed.
    as_city = alipay_api.send(ac.account, {**fields, "notify_id": "n-city"})
    assert (await deliver(client, ac, as_city)).status_code == 400
    assert (await deliver(client, ac, fields)).text == "success"
    after = await ac.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.confirmed, "paid")
    with use_city(ac.city):
        assert await service.cancel_booking(rt, member_id=booking.member_id, booking_id=booking.id) is not None
    assert await run_topic(ac, "payment.refund") == ["done"]
    assert [r["fen"] for r in own.refunds.values()] == [5000] and not ac.account.refunds


async def test_concurrent_deliveries_of_one_notify_confirm_once(client, alipay_city, alipay_api):
    import asyncio

    ac = alipay_city
    booking = await ac.held_booking()
    fields, _ = await paid_trade(ac, alipay_api, booking)
    answers = await asyncio.gather(*(deliver(client, ac, fields) for _ in range(4)))
    assert [a.text for a in answers] == ["success"] * 4
    kinds = [e.kind for e in await ac.events(booking.id)]
    assert kinds.count("paid") == 1 and kinds.count("confirmed") == 1
    assert [r.outcome for r in await stored(ac)] == ["confirmed"]


async def test_a_notify_with_a_bad_length_header_is_refused(client, alipay_city):
    ac = alipay_city
    r = await client.post(url(ac), content=b"a=1", headers={"Content-Type": "application/x-www-form-urlencoded",
                                                            "Content-Length": "x"})
    assert r.status_code in (400, 413)  # the platform's body limit or the notify's own check; never a 500
