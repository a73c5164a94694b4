"""Carrier billing against the local fake gateway: the charge request and its SMS, paying
within the hold, a declined or unfunded charge letting the hold run out, a payment after the
hold refunded, asking the carrier on the member's return, refunds through the outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from guahao.core import payments
from guahao.core.booking import service
from guahao.core.errors import DomainError
from guahao.core.jobs import process_outbox_message
from guahao.core.models import BookingStatus, Member, OutboxMessage
from guahao.plugin_api import TransportError
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city

from .conftest import PHONE


async def provider_and_config(cc):
    with use_city(cc.city):
        plugins = await cc.rt.plugins.for_city(cc.city)
    return plugins.payment_provider("carrier"), plugins.settings("carrier"), plugins.secrets("carrier")


async def pay(cc, client, booking):
    """Start the payment, the member answers Y, the callback arrives; returns the intent."""
    intent = await cc.start(booking)
    answer = await cc.deliver(client, cc.api.reply(cc.account, intent.reference, "Y"))
    assert answer.status_code == 200 and answer.json() == {"code": "ok", "outcome": "confirmed"}
    return intent


async def test_the_charge_request_texts_the_member_once_per_booking(carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent = await cc.start(booking)
    again = await cc.start(booking)  # a double click: the same order, no second SMS
    order = f"GH{cc.city.id}C{booking.id.replace('-', '')}"
    assert intent.reference == again.reference == order
    assert intent.online and intent.redirect_url is None and intent.amount_fen == booking.fee_fen == 5000
    assert "138****8000" in intent.instructions and "回复“Y”" in intent.instructions and "50.00 元" in intent.instructions
    assert intent.data["phone"] == "138****8000" and intent.data["status"] == "awaiting_confirmation"
    [(method, target, body), _] = cc.account.requests
    assert (method, target) == ("POST", "/gh/v1/charges")  # the gateway_url's path is signed too
    assert body["order_no"] == order and body["phone"] == PHONE and body["amount_fen"] == 5000
    assert body["notify_url"] == f"http://testserver/c/{cc.city.slug}/plugins/carrier/notify"
    assert "王建国" in body["description"] and "呼吸内科" in body["description"]
    assert len(cc.account.orders) == 1 and [s["phone"] for s in cc.account.sms] == [PHONE]
    stored = await cc.booking(booking.id)
    assert (stored.payment_provider, stored.payment_ref) == ("carrier", order)


async def test_a_member_who_answers_y_within_the_hold_is_booked(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent = await pay(cc, client, booking)
    after = await cc.booking(booking.id)
    assert (after.status, after.payment_status, after.payment_ref) == (BookingStatus.confirmed, "paid", intent.reference)
    [row] = await cc.callbacks()
    assert (row.order_no, row.status, row.outcome, row.booking_id) == (intent.reference, "succeeded", "confirmed", booking.id)


async def test_declined_or_unfunded_charges_leave_the_hold_to_expire(client, carrier_city):
    cc = carrier_city
    declined, unfunded = await cc.held_booking(), await cc.held_booking(1)
    no = await cc.start(declined)
    cc.account.short_of_balance.add("13900139000")
    poor = await cc.start(unfunded, phone="13900139000")
    first = await cc.deliver(client, cc.api.reply(cc.account, no.reference, "N"))
    second = await cc.deliver(client, cc.api.reply(cc.account, poor.reference, "Y"))
    assert first.json()["outcome"] == "declined" and second.json()["outcome"] == "insufficient_balance"
    for booking, reason in ((declined, "declined"), (unfunded, "insufficient_balance")):
        held = await cc.booking(booking.id)
        assert (held.status, held.payment_status) == (BookingStatus.pending_payment, "unpaid")
        [failed] = [e for e in await cc.events(booking.id) if e.kind == "payment_failed"]
        assert failed.data["reason"] == reason and failed.data["payment_ref"] == held.payment_ref
        with frozen(booking.hold_expires_at + timedelta(seconds=1)):
            with use_city(cc.city):
                assert await service.expire_hold(cc.rt, booking.id)
        assert (await cc.booking(booking.id)).status == BookingStatus.expired
    assert await cc.run_topic("payment.void") == ["done", "done"]  # the orders are closed
    assert {o["status"] for o in cc.account.orders.values()} == {"declined", "insufficient_balance"}
    assert not await cc.outbox("payment.refund")


async def test_an_expired_hold_closes_the_order_and_a_late_y_charges_nothing(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent = await cc.start(booking)
    with frozen(booking.hold_expires_at + timedelta(seconds=1)):
        with use_city(cc.city):
            assert await service.expire_hold(cc.rt, booking.id)
    assert await cc.run_topic("payment.void") == ["done"]
    assert cc.account.orders[intent.reference]["status"] == "closed"
    assert cc.api.reply(cc.account, intent.reference, "Y") is None  # the member is told, not charged
    assert "未扣费" in cc.account.sms[-1]["text"]


async def test_a_payment_after_the_hold_ended_is_refunded(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent = await cc.start(booking)
    with frozen(booking.hold_expires_at + timedelta(minutes=2)):  # the member answers late, before the void job
        answer = await cc.deliver(client, cc.api.reply(cc.account, intent.reference, "Y"))
        assert answer.json() == {"code": "ok", "outcome": "refunding"}
        [planned] = await cc.outbox("payment.refund")
        assert planned.payload["reason"] == "late_payment" and planned.payload["payment_ref"] == intent.reference
        assert await cc.run_topic("payment.refund") == ["done"]
    [refund] = cc.account.refunds.values()
    assert (refund["order_no"], refund["amount_fen"], refund["refund_no"]) == (intent.reference, 5000, f"{intent.reference}R5000")
    after = await cc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.expired, "refunded")


async def test_returning_before_the_callback_asks_the_carrier(carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent = await cc.start(booking)
    with use_city(cc.city):
        assert await payments.check_payment(cc.rt, member_id=booking.member_id, booking_id=booking.id) is None
    cc.api.reply(cc.account, intent.reference, "Y")  # the callback is still on its way
    with use_city(cc.city):
        assert await payments.check_payment(cc.rt, member_id=booking.member_id, booking_id=booking.id) == "confirmed"
    assert (await cc.booking(booking.id)).status == BookingStatus.confirmed
    assert ("GET", f"/gh/v1/charges/{intent.reference}", {}) in cc.account.requests


async def test_cancelling_a_paid_booking_refunds_it_through_the_outbox(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking(2)  # two days ahead: cancellable online
    intent = await pay(cc, client, booking)
    with use_city(cc.city):
        await service.cancel_booking(cc.rt, member_id=booking.member_id, booking_id=booking.id, reason="member")
    [planned] = await cc.outbox("payment.refund")
    assert planned.payload == {"booking_id": booking.id, "provider": "carrier", "payment_ref": intent.reference,
                               "amount_fen": 5000, "reason": "cancelled"}
    assert not cc.account.refunds  # nothing moved inside the booking's transaction
    cc.account.fail["refund"] = 1  # the gateway is busy: the job is tried again later
    assert await cc.run_topic("payment.refund") == ["pending"]
    with use_city(cc.city):
        async with cc.rt.db.transaction() as s:
            row = await s.scalar(select(OutboxMessage).where(OutboxMessage.id == planned.id))
    assert row.status == "pending" and row.attempts == 1 and "unavailable" in row.last_error
    assert cc.account.shared_secret not in row.last_error
    assert await process_outbox_message(cc.rt, planned.id) == "done"
    [refund] = cc.account.refunds.values()
    assert refund["amount_fen"] == 5000
    after = await cc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.cancelled, "refunded")
    [event] = [e for e in await cc.events(booking.id) if e.kind == "refunded"]
    assert event.data["refund_ref"] == refund["refund_no"] and event.data["status"] == "refunded"
    provider, settings, secrets = await provider_and_config(cc)
    with use_city(cc.city):  # the same refund asked again moves no more money
        result = await provider.refund(after, 5000, settings, secrets)
    assert (result.status, result.reference) == ("refunded", refund["refund_no"])
    assert cc.account.orders[intent.reference]["refunded_fen"] == 5000


async def test_partial_refunds_have_their_own_numbers(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking(2)
    intent = await pay(cc, client, booking)
    provider, settings, secrets = await provider_and_config(cc)
    booked = await cc.booking(booking.id)
    with use_city(cc.city):
        first = await provider.refund(booked, 1250, settings, secrets)
        second = await provider.refund(booked, 1250, settings, secrets, refund_no=f"{intent.reference}D2")
        repeat = await provider.refund(booked, 1250, settings, secrets, refund_no=f"{intent.reference}D2")
        with pytest.raises(TransportError) as err:  # more than is left
            await provider.refund(booked, 5000, settings, secrets)
    assert first.status == second.status == repeat.status == "refunded" and first.reference != second.reference
    assert cc.account.orders[intent.reference]["refunded_fen"] == 2500
    assert err.value.code == "refund_exceeds" and err.value.permanent


async def test_charges_that_cannot_be_sent_open_no_payment(carrier_city, carrier_api):
    cc = carrier_city
    booking = await cc.held_booking()
    with use_city(cc.city):  # a member with no mobile number on record
        async with cc.rt.db.transaction() as s:
            await s.execute(update(Member).where(Member.id == booking.member_id).values(phone=""))
    with pytest.raises(DomainError) as err:
        await cc.start(booking, phone="")
    assert (err.value.code, err.value.status) == ("phone_required", 402)
    with pytest.raises(DomainError) as err:
        await cc.start(await cc.held_booking(), phone="13012345678")  # a China Unicom number
    assert err.value.code == "phone_not_served" and "中国移动" in err.value.message
    cc.account.fail["charge"] = 1
    with pytest.raises(DomainError) as err:
        await cc.start(await cc.held_booking(1))
    assert err.value.code == "payment_unavailable"
    assert not cc.account.orders


async def test_answers_without_the_carriers_signature_are_not_believed(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent = await cc.start(booking)
    cc.api.reply(cc.account, intent.reference, "Y")
    cc.account.forge_answers = True  # someone between us and the carrier answers "paid"
    provider, settings, secrets = await provider_and_config(cc)
    with use_city(cc.city):
        with pytest.raises(TransportError) as err:
            await provider.query(await cc.booking(booking.id), settings, secrets)
        result = await provider.execute(await cc.booking(booking.id), settings, secrets)
        assert await payments.check_payment(cc.rt, member_id=booking.member_id, booking_id=booking.id) is None
        with pytest.raises(DomainError) as refused:
            await cc.start(await cc.held_booking(1))
    assert err.value.code == "answer_unverified" and result.status == "pending"  # the callback still decides
    assert refused.value.code == "payment_unavailable"
    assert (await cc.booking(booking.id)).status == BookingStatus.pending_payment


async def test_a_member_who_declined_may_try_again_within_the_hold(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent = await cc.start(booking)
    declined = cc.api.reply(cc.account, intent.reference, "N")
    assert (await cc.deliver(client, declined)).json()["outcome"] == "declined"
    again = await cc.start(booking)  # the member changed their mind: the same order, a new SMS
    assert again.reference == intent.reference and again.data["status"] == "awaiting_confirmation"
    assert len(cc.account.sms) == 2 and len(cc.account.orders) == 1
    assert (await cc.deliver(client, cc.api.reply(cc.account, intent.reference, "Y"))).json()["outcome"] == "confirmed"
    assert (await cc.deliver(client, declined)).status_code == 409  # the old answer replayed: its nonce is spent
    late_copy = cc.api.callback(cc.account, declined.url, declined.body)  # resent by the carrier: acted on once
    assert (await cc.deliver(client, late_copy)).json()["outcome"] == "duplicate"
    after = await cc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.confirmed, "paid")


async def test_a_refund_under_way_is_asked_again_until_done(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking(2)
    intent = await pay(cc, client, booking)
    with use_city(cc.city):
        await service.cancel_booking(cc.rt, member_id=booking.member_id, booking_id=booking.id, reason="member")
    cc.account.pending_refunds = 2  # the carrier answers "pending" twice
    assert await cc.run_topic("payment.refund") == ["pending"]
    assert (await cc.booking(booking.id)).payment_status == "paid"  # not refunded until the carrier says so
    assert await cc.run_topic("payment.refund") == ["pending"]
    [row] = await cc.outbox("payment.refund")
    assert row.attempts == 2 and "refund_pending" in row.last_error
    assert await cc.run_topic("payment.refund") == ["done"]
    [refund] = cc.account.refunds.values()
    assert (refund["status"], refund["amount_fen"]) == ("succeeded", 5000)
    assert cc.account.orders[intent.reference]["refunded_fen"] == 5000  # one refund, asked three times
    assert (await cc.booking(booking.id)).payment_status == "refunded"


async def test_a_suspended_session_refunds_every_carrier_payment(client, carrier_city):
    from guahao.core.audit import Actor
    from guahao.core.backoffice import changes
    from tests.core.booking.helpers import make_member, reserve

    cc = carrier_city
    session = cc.cat.sessions[2]
    held = [await reserve(cc.rt, cc.city, await make_member(cc.rt, cc.city), period.id)
            for period in cc.cat.periods[session.id] for _ in range(2)]  # every unit of the session
    intents = [await pay(cc, client, b) for b in held]
    with use_city(cc.city):
        scheduler = Actor("staff", 7, name="排班员", role="hospital_scheduler")
        await changes.suspend(cc.rt, session.id, reason="设备检修", actor=scheduler)
    assert len(await cc.outbox("payment.refund")) == len(held) == 4
    cc.account.fail["refund"] = 1  # one refund meets a busy gateway and waits for its retry
    assert sorted(await cc.run_topic("payment.refund"), key=str) == ["done"] * 3 + ["pending"]
    assert await cc.run_topic("payment.refund") == ["done"]
    assert {r["order_no"]: r["amount_fen"] for r in cc.account.refunds.values()} == {i.reference: 5000 for i in intents}
    for b in held:
        after = await cc.booking(b.id)
        assert (after.status, after.payment_status) == (BookingStatus.cancelled, "refunded")


async def test_the_members_own_phone_is_charged_when_the_site_names_none(carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    with use_city(cc.city):
        async with cc.rt.db.transaction() as s:
            await s.execute(update(Member).where(Member.id == booking.member_id).values(phone="13800138123"))
        intent = await payments.start_payment(cc.rt, member_id=booking.member_id, booking_id=booking.id,
                                              return_url=cc.return_url(booking, phone=""))  # as the patient site sends it
    assert intent.data["phone"] == "138****8123"
    [(_, _, body)] = [r for r in cc.account.requests if r[2].get("order_no") == intent.reference]
    assert body["phone"] == "13800138123"
