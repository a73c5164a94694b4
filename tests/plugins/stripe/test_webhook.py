"""Stripe's webhook through the app: signatures, once-only events, amounts, late payments."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from sqlalchemy import select

from guahao.core import payments
from guahao.core.booking import service
from guahao.core.models import BookingStatus
from guahao.core.plugins.manager import configure
from guahao.plugins.payments.stripe.models import StripeWebhookEvent
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city
from tests.fakes.stripe import sign

from .test_payments import RETURN, run_topic


def url(sc) -> str:
    return f"/c/{sc.city.slug}/plugins/stripe/webhook"


async def deliver(client, sc, payload: str, header: str):
    return await client.post(url(sc), content=payload.encode(), headers={"Stripe-Signature": header,
                                                                         "Content-Type": "application/json"})


async def paid_session(sc, stripe_api, booking) -> tuple[str, str, str]:
    """Start and pay the booking's checkout; returns the completed event (payload, header) and session id."""
    with use_city(sc.city):
        intent = await payments.start_payment(sc.rt, member_id=booking.member_id, booking_id=booking.id,
                                              return_url=RETURN)
    stripe_api.pay(intent.reference)
    event, payload, header = sc.account.events[-1]
    assert event["type"] == "checkout.session.completed"
    return payload, header, intent.reference


async def stored_events(sc) -> list[StripeWebhookEvent]:
    with use_city(sc.city):
        async with sc.rt.db.transaction() as s:
            return list((await s.scalars(select(StripeWebhookEvent).order_by(StripeWebhookEvent.id))).all())


async def test_a_signed_completed_event_confirms_once(client, stripe_city, stripe_api):
    sc = stripe_city
    booking = await sc.held_booking()
    payload, header, sid = await paid_session(sc, stripe_api, booking)
    first = await deliver(client, sc, payload, header)
    assert first.status_code == 200 and first.json()["outcome"] == "confirmed"
    again = await deliver(client, sc, payload, header)  # Stripe redelivers
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    after = await sc.booking(booking.id)
    assert (after.status, after.payment_status, after.payment_ref) == (BookingStatus.confirmed, "paid", sid)
    kinds = [e.kind for e in await sc.events(booking.id)]
    assert kinds.count("paid") == 1 and kinds.count("confirmed") == 1
    [row] = await stored_events(sc)
    assert (row.type, row.booking_id, row.outcome) == ("checkout.session.completed", booking.id, "confirmed")


async def test_bad_missing_or_stale_signatures_are_refused(client, stripe_city, stripe_api):
    sc = stripe_city
    booking = await sc.held_booking()
    payload, header, _ = await paid_session(sc, stripe_api, booking)
    forged = sign(payload, "whsec_not_the_citys")
    stale = sign(payload, sc.account.webhook_secret, t=int(time.time()) - 301)
    tampered = payload.replace('"amount_total": 5000', '"amount_total": 1')
    for body, sig in ((payload, forged), (payload, stale), (payload, ""), (tampered, header)):
        r = await deliver(client, sc, body, sig)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_signature"
    assert (await sc.booking(booking.id)).status == BookingStatus.pending_payment
    assert await stored_events(sc) == []
    fresh = sign(payload, sc.account.webhook_secret, t=int(time.time()) - 290)  # inside the 300 s tolerance
    assert (await deliver(client, sc, payload, fresh)).json()["outcome"] == "confirmed"


async def test_a_wrong_amount_or_currency_is_refused_and_logged(client, stripe_city, stripe_api):
    sc = stripe_city
    booking = await sc.held_booking()
    payload, _, _ = await paid_session(sc, stripe_api, booking)
    for change, code in ((("amount_total", 100), "amount_mismatch"), (("currency", "usd"), "currency")):
        event = json.loads(payload)
        event["id"] += change[0]
        event["data"]["object"][change[0]] = change[1]
        body = json.dumps(event)
        r = await deliver(client, sc, body, sign(body, sc.account.webhook_secret))
        assert r.status_code == 200 and r.json()["outcome"] == "refused" and code in r.json()["detail"]
    assert (await sc.booking(booking.id)).status == BookingStatus.pending_payment
    assert [e.outcome for e in await stored_events(sc)] == ["refused", "refused"]


async def test_a_payment_after_the_hold_ended_is_refunded(client, stripe_city, stripe_api):
    sc = stripe_city
    booking = await sc.held_booking()
    with use_city(sc.city):
        await payments.start_payment(sc.rt, member_id=booking.member_id, booking_id=booking.id, return_url=RETURN)
        with frozen(booking.hold_expires_at + timedelta(seconds=1)):
            assert await service.expire_hold(sc.rt, booking.id)
    # The member pays on the still-open Stripe page before the session is closed.
    sid = (await sc.booking(booking.id)).payment_ref
    stripe_api.pay(sid)
    _, payload, header = sc.account.events[-1]
    r = await deliver(client, sc, payload, header)
    assert r.json()["outcome"] == "refunding"
    assert await run_topic(sc, "payment.refund") == ["done"]
    [refund] = sc.account.refunds.values()
    assert refund["amount"] == 5000
    after = await sc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.expired, "refunded")
    assert {"paid_late", "refunded"} <= {e.kind for e in await sc.events(booking.id)}
    assert await run_topic(sc, "payment.void") == ["done"]  # nothing left open to close


async def test_other_events_are_acknowledged_and_cities_without_stripe_get_404(client, rt, stripe_city, city):
    sc = stripe_city
    body = json.dumps({"id": "evt_other", "object": "event", "type": "customer.created", "data": {"object": {}}})
    r = await deliver(client, sc, body, sign(body, sc.account.webhook_secret))
    assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    await configure(rt, city, "stripe", enabled=False)
    r = await deliver(client, sc, body, sign(body, sc.account.webhook_secret))
    assert r.status_code == 404
