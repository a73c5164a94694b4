"""The Alipay provider against the local fake gateway, with python-alipay-sdk's signing:
page, wap and QR payments, paying within the hold, asking Alipay on the member's return,
refunds through the outbox, closing the trade of an expired hold."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from guahao.core import payments
from guahao.core.booking import service
from guahao.core.errors import DomainError
from guahao.core.jobs import process_outbox_message
from guahao.core.models import BookingStatus, OutboxMessage
from guahao.core.plugins.manager import configure
from guahao.plugin_api import TransportError
from guahao.plugins.payments.alipay.gateway import beijing_time
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city

RETURN = "http://testserver/c/{slug}/bookings/{ref}/paid"
PHONE_HINTS = "?pay_client=mobile&pay_ip=10.1.2.3"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


def return_url(ac, booking) -> str:
    return RETURN.format(slug=ac.city.slug, ref=booking.id)


async def start(ac, booking, hints: str = ""):
    """``start_payment`` as the site calls it; ``hints`` are the site's ``pay_client`` hints."""
    with use_city(ac.city):
        return await payments.start_payment(ac.rt, member_id=booking.member_id, booking_id=booking.id,
                                            return_url=return_url(ac, booking) + hints)


async def open_cashier(alipay_api, url: str) -> str:
    """Open a signed gateway address as the member's browser; returns the cashier it sends to."""
    assert url.startswith(alipay_api.gateway + "?")
    async with httpx.AsyncClient() as browser:
        gateway = await browser.get(url)
    assert gateway.status_code == 302, gateway.text
    return gateway.headers["location"]


async def pay_and_confirm(ac, alipay_api, booking):
    intent = await start(ac, booking)
    # The member pays on the wap cashier; the notify is kept back: the return asks Alipay.
    query = parse_qs(urlsplit(intent.data["wap_url"]).query)
    await open_cashier(alipay_api, intent.data["wap_url"])
    alipay_api.pay(ac.account.app_id, intent.reference)
    assert json.loads(query["biz_content"][0])["out_trade_no"] == intent.reference
    with use_city(ac.city):
        assert await payments.check_payment(ac.rt, member_id=booking.member_id, booking_id=booking.id) == "confirmed"
    return intent


async def run_topic(ac, topic: str) -> list[str | None]:
    return [await process_outbox_message(ac.rt, m.id) for m in await ac.outbox(topic) if m.status == "pending"]


async def test_a_web_payment_is_one_trade_per_booking_on_page_or_wap_pay(alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking()
    first = await start(ac, booking)  # a computer: the site adds no hint
    again = await start(ac, booking, PHONE_HINTS)  # a double click, from a phone
    assert first.reference == again.reference == f"GH{ac.city.id}_{booking.id.replace('-', '')}"
    assert first.online and first.amount_fen == booking.fee_fen == 5000
    assert first.redirect_url == first.data["page_url"] and again.redirect_url == again.data["wap_url"]
    page = parse_qs(urlsplit(first.data["page_url"]).query)
    biz = json.loads(page["biz_content"][0])
    assert page["method"] == ["alipay.trade.page.pay"] and page["sign_type"] == ["RSA2"] and page["charset"] == ["utf-8"]
    assert biz["total_amount"] == "50.00" and biz["product_code"] == "FAST_INSTANT_TRADE_PAY"
    assert biz["time_expire"] == beijing_time(booking.hold_expires_at)
    assert "王建国" in biz["subject"] and "呼吸内科" in biz["subject"]
    assert page["notify_url"] == [f"http://testserver/c/{ac.city.slug}/plugins/alipay/notify"]
    assert page["return_url"][0].startswith(f"http://testserver/c/{ac.city.slug}/plugins/alipay/return/")
    wap_query = parse_qs(urlsplit(again.redirect_url).query)
    wap = json.loads(wap_query["biz_content"][0])
    assert wap_query["method"] == ["alipay.trade.wap.pay"] and wap["product_code"] == "QUICK_WAP_PAY"
    assert wap["quit_url"] == return_url(ac, booking) + "?cancelled=1"  # the hints never leave the platform
    assert "10.1.2.3" not in again.redirect_url and "pay_client" not in again.redirect_url

    desktop = await open_cashier(alipay_api, first.redirect_url)
    phone = await open_cashier(alipay_api, again.redirect_url)
    assert desktop == phone == f"{alipay_api.url}/cashier/{ac.account.app_id}/{first.reference}"
    assert [m for m, _ in ac.account.requests] == ["alipay.trade.page.pay", "alipay.trade.wap.pay"]
    assert len(ac.account.trades) == 1 and ac.account.trades[first.reference]["total_fen"] == 5000
    stored = await ac.booking(booking.id)
    assert (stored.payment_provider, stored.payment_ref) == ("alipay", first.reference)


async def test_the_kiosk_gets_a_qr_code_from_precreate(alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking(channel="kiosk")
    intent = await start(ac, booking)
    assert intent.redirect_url is None and intent.data["qr_url"].startswith(f"{alipay_api.url}/cashier/")
    assert (await start(ac, booking)).data["qr_url"] == intent.data["qr_url"]  # the same trade, the same code
    assert [m for m, _ in ac.account.requests] == ["alipay.trade.precreate"] * 2
    booked_online = await ac.held_booking(1)  # booked on the web, paid at the kiosk (the site's hint)
    qr = (await start(ac, booked_online, "?pay_client=kiosk")).data["qr_url"]
    assert booked_online.id.replace("-", "") in qr
    alipay_api.pay(ac.account.app_id, intent.reference)  # the member scans and pays
    with use_city(ac.city):
        assert await payments.check_payment(ac.rt, member_id=booking.member_id, booking_id=booking.id) == "confirmed"
    assert (await ac.booking(booking.id)).status == BookingStatus.confirmed


async def test_alipay_down_or_wrong_keys_open_no_payment(rt, alipay_city, alipay_api):
    ac = alipay_city
    ac.account.fail["alipay.trade.precreate"] = 1
    with pytest.raises(DomainError) as err:
        await start(ac, await ac.held_booking(channel="kiosk"))
    assert err.value.code == "payment_unavailable" and err.value.status == 402
    other = alipay_api.add_account()  # the city holds another app's private key: Alipay refuses the signature
    await configure(rt, ac.city, "alipay", settings={"app_id": ac.account.app_id, "gateway": alipay_api.gateway},
                    secrets={"app_private_key": other.app_private_key})
    with pytest.raises(DomainError) as err:
        await start(ac, await ac.held_booking(1, channel="kiosk"))
    assert err.value.code == "payment_unavailable"
    booking = await ac.held_booking(2)
    with frozen(booking.hold_expires_at + timedelta(seconds=1)):
        with pytest.raises(DomainError) as err:
            await start(ac, booking)
    assert err.value.code == "hold_expired"


async def test_returning_before_the_notify_asks_alipay(alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking()
    intent = await start(ac, booking)
    with use_city(ac.city):  # not paid yet: Alipay knows no trade (the member never logged in)
        assert await payments.check_payment(ac.rt, member_id=booking.member_id, booking_id=booking.id) is None
    async with httpx.AsyncClient() as browser:
        await browser.get(intent.data["page_url"])
    with use_city(ac.city):  # the trade waits for the buyer
        assert await payments.check_payment(ac.rt, member_id=booking.member_id, booking_id=booking.id) is None
    alipay_api.pay(ac.account.app_id, intent.reference)
    with use_city(ac.city):
        assert await payments.check_payment(ac.rt, member_id=booking.member_id, booking_id=booking.id) == "confirmed"
    after = await ac.booking(booking.id)
    assert (after.status, after.payment_status, after.payment_ref) == (BookingStatus.confirmed, "paid", intent.reference)


async def test_cancelling_a_paid_booking_refunds_it_through_the_outbox(alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking(2)  # two days ahead: cancellable online
    intent = await pay_and_confirm(ac, alipay_api, booking)
    with use_city(ac.city):
        await service.cancel_booking(ac.rt, member_id=booking.member_id, booking_id=booking.id, reason="member")
    [planned] = await ac.outbox("payment.refund")
    assert planned.payload == {"booking_id": booking.id, "provider": "alipay", "payment_ref": intent.reference,
                               "amount_fen": 5000, "reason": "cancelled"}
    assert not ac.account.refunds  # nothing moved inside the booking's transaction
    ac.account.fail["alipay.trade.refund"] = 1  # Alipay is busy: the job is retried later
    assert await run_topic(ac, "payment.refund") == ["pending"]
    with use_city(ac.city):
        async with ac.rt.db.transaction() as s:
            row = await s.scalar(select(OutboxMessage).where(OutboxMessage.id == planned.id))
    assert row.status == "pending" and row.attempts == 1 and "20000" in row.last_error
    assert "PRIVATE KEY" not in row.last_error
    assert await process_outbox_message(ac.rt, planned.id) == "done"
    [refund] = ac.account.refunds.values()
    assert refund["fen"] == 5000 and refund["out_request_no"] == f"{intent.reference}_R5000"
    after = await ac.booking(booking.id)
    assert after.status == BookingStatus.cancelled and after.payment_status == "refunded"
    [event] = [e for e in await ac.events(booking.id) if e.kind == "refunded"]
    assert event.data["refund_ref"] == refund["out_request_no"] and event.data["status"] == "refunded"
    # The same refund asked again (a replayed job whose record was lost) moves no more money.
    with use_city(ac.city):
        plugins = await ac.rt.plugins.for_city(ac.city)
        provider = plugins.payment_provider("alipay")
        result = await provider.refund(after, 5000, plugins.settings("alipay"), plugins.secrets("alipay"))
    assert (result.status, result.reference) == ("refunded", refund["out_request_no"])
    assert len(ac.account.refunds) == 1 and ac.account.trades[intent.reference]["refunded_fen"] == 5000


async def test_partial_refunds_are_separate_requests(alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking(2)
    intent = await pay_and_confirm(ac, alipay_api, booking)
    with use_city(ac.city):
        plugins = await ac.rt.plugins.for_city(ac.city)
        provider = plugins.payment_provider("alipay")
        settings, secrets = plugins.settings("alipay"), plugins.secrets("alipay")
        booked = await ac.booking(booking.id)
        first = await provider.refund(booked, 1250, settings, secrets)
        second = await provider.refund(booked, 1250, settings, secrets, out_request_no=f"{intent.reference}_drug2")
        with pytest.raises(Exception) as err:  # more than is left
            await provider.refund(booked, 5000, settings, secrets)
    assert first.status == second.status == "refunded" and first.reference != second.reference
    assert ac.account.trades[intent.reference]["refunded_fen"] == 2500
    assert "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL" in str(err.value)


async def test_an_expired_hold_closes_its_trade(alipay_city, alipay_api):
    ac = alipay_city
    booking = await ac.held_booking()
    intent = await start(ac, booking)
    async with httpx.AsyncClient() as browser:
        await browser.get(intent.data["page_url"])  # the member opened the cashier, then left
    with frozen(booking.hold_expires_at + timedelta(seconds=1)):
        with use_city(ac.city):
            assert await service.expire_hold(ac.rt, booking.id)
    assert await run_topic(ac, "payment.void") == ["done"]
    assert ac.account.trades[intent.reference]["status"] == "TRADE_CLOSED"
    assert ("alipay.trade.close", {"out_trade_no": intent.reference}) in ac.account.requests


async def test_answers_without_alipays_signature_are_not_believed(alipay_city):
    ac = alipay_city
    booking = await ac.held_booking()
    intent = await start(ac, booking)
    ac.account.forge_answers = True  # someone between us and Alipay answers "paid"
    with use_city(ac.city):
        plugins = await ac.rt.plugins.for_city(ac.city)
        provider = plugins.payment_provider("alipay")
        with pytest.raises(TransportError) as err:
            await provider.query(await ac.booking(booking.id), plugins.settings("alipay"), plugins.secrets("alipay"))
        with pytest.raises(DomainError) as refused:  # a QR code from a forged answer is not shown
            await start(ac, await ac.held_booking(1, channel="kiosk"))
    assert err.value.code == "invalid_signature" and err.value.permanent
    assert refused.value.code == "payment_unavailable"
    assert (await ac.booking(booking.id)).payment_ref == intent.reference


async def test_a_suspended_session_refunds_every_alipay_payment(alipay_city, alipay_api):
    from guahao.core.audit import Actor
    from guahao.core.backoffice import changes
    from tests.core.booking.helpers import make_member, reserve

    ac = alipay_city
    session = ac.cat.sessions[2]
    held = [await reserve(ac.rt, ac.city, await make_member(ac.rt, ac.city), period.id)
            for period in ac.cat.periods[session.id] for _ in range(2)]  # every unit of the session
    intents = [await pay_and_confirm(ac, alipay_api, b) for b in held]
    with use_city(ac.city):
        scheduler = Actor("staff", 7, name="排班员", role="hospital_scheduler")
        await changes.suspend(ac.rt, session.id, reason="设备检修", actor=scheduler)
    assert len(await ac.outbox("payment.refund")) == len(held) == 4
    ac.account.fail["alipay.trade.refund"] = 1  # one refund meets a busy gateway and waits for its retry
    first = await run_topic(ac, "payment.refund")
    assert sorted(first, key=str) == ["done"] * 3 + ["pending"]
    assert await run_topic(ac, "payment.refund") == ["done"]
    refunded = {r["out_trade_no"]: r["fen"] for r in ac.account.refunds.values()}
    assert refunded == {i.reference: 5000 for i in intents}
    for b in held:
        after = await ac.booking(b.id)
        assert (after.status, after.payment_status) == (BookingStatus.cancelled, "refunded")
