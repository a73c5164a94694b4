"""Refunds Stripe settles later: a pending refund that succeeds or fails, a refund that fails
after it succeeded, a refund made in Stripe's Dashboard — through the signed webhook."""

from __future__ import annotations

import json

from guahao.core.booking import service
from guahao.core.models import BookingStatus
from guahao.tenants.context import use_city
from tests.fakes.stripe import sign

from .test_payments import pay_and_confirm, run_topic
from .test_webhook import deliver, stored_events


def sent(sc, kind: str, obj_id: str | None = None) -> list[tuple[str, str]]:
    """(payload, header) of the events of ``kind`` the fake Stripe sent, oldest first."""
    return [(p, h) for e, p, h in sc.account.events
            if e["type"] == kind and (obj_id is None or e["data"]["object"]["id"] == obj_id)]


async def cancelled_and_refunded(sc, stripe_api, *, refund_status: str = "succeeded"):
    """A paid booking the member cancels; the outbox job asks Stripe for the refund."""
    booking = await sc.held_booking(2)
    intent = await pay_and_confirm(sc, stripe_api, booking)
    sc.account.refund_status = refund_status
    with use_city(sc.city):
        await service.cancel_booking(sc.rt, member_id=booking.member_id, booking_id=booking.id, reason="member")
    assert await run_topic(sc, "payment.refund") == ["done"]
    [refund] = sc.account.refunds.values()
    return booking, intent, refund


async def test_a_pending_refund_becomes_refunded_when_stripe_says_so(client, stripe_city, stripe_api):
    sc = stripe_city
    booking, intent, refund = await cancelled_and_refunded(sc, stripe_api, refund_status="pending")
    after = await sc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.cancelled, "paid")  # not back yet
    [asked] = [e for e in await sc.events(booking.id) if e.kind == "refunded"]
    assert asked.data["status"] == "pending" and asked.data["refund_ref"] == refund["id"]

    # Stripe's notices about the refund it was asked for change nothing by themselves.
    for kind in ("refund.created", "charge.refunded"):
        [(payload, header)] = sent(sc, kind)
        r = await deliver(client, sc, payload, header)
        assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    assert (await sc.booking(booking.id)).payment_status == "paid"

    stripe_api.settle_refund(refund["id"], "succeeded")
    [(payload, header)] = sent(sc, "refund.updated")
    r = await deliver(client, sc, payload, header)
    assert r.status_code == 200 and r.json()["outcome"] == "refunded"
    assert (await deliver(client, sc, payload, header)).json()["outcome"] == "duplicate"
    after = await sc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.cancelled, "refunded")
    [settled] = [e for e in await sc.events(booking.id) if e.kind == "refund_succeeded"]
    assert settled.data == {"provider": "stripe", "payment_ref": intent.reference, "refund_ref": refund["id"],
                            "amount_fen": 5000, "status": "succeeded"}
    rows = [(e.type, e.outcome) for e in await stored_events(sc)]
    assert rows == [("refund.created", "ignored"), ("charge.refunded", "ignored"), ("refund.updated", "refunded")]


async def test_a_pending_refund_that_fails_stays_owed_and_visible(client, stripe_city, stripe_api):
    sc = stripe_city
    booking, _, refund = await cancelled_and_refunded(sc, stripe_api, refund_status="pending")
    stripe_api.settle_refund(refund["id"], "failed", failure_reason="expired_or_canceled_card")
    outcomes = []
    for kind in ("refund.updated", "refund.failed"):  # Stripe sends both for a failure
        [(payload, header)] = sent(sc, kind)
        outcomes.append((await deliver(client, sc, payload, header)).json())
    assert [o["outcome"] for o in outcomes] == ["refund_failed", "duplicate"]
    assert "expired_or_canceled_card" in outcomes[0]["detail"]
    after = await sc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.cancelled, "paid")  # money still held
    [failed] = [e for e in await sc.events(booking.id) if e.kind == "refund_failed"]
    assert failed.data["failure_reason"] == "expired_or_canceled_card" and failed.data["status"] == "failed"
    [row] = [e for e in await stored_events(sc) if e.outcome == "refund_failed"]
    assert row.booking_id == booking.id and refund["id"] in row.detail


async def test_a_refund_that_fails_after_succeeding_puts_the_booking_back_to_paid(client, stripe_city, stripe_api):
    sc = stripe_city
    booking, _, refund = await cancelled_and_refunded(sc, stripe_api)
    assert (await sc.booking(booking.id)).payment_status == "refunded"
    stripe_api.settle_refund(refund["id"], "failed", failure_reason="lost_or_stolen_card")
    [(payload, header)] = sent(sc, "refund.failed")
    assert (await deliver(client, sc, payload, header)).json()["outcome"] == "refund_failed"
    assert (await sc.booking(booking.id)).payment_status == "paid"


async def test_a_refund_made_in_the_dashboard_is_recorded_and_not_repeated(client, stripe_city, stripe_api):
    sc = stripe_city
    booking = await sc.held_booking(2)
    intent = await pay_and_confirm(sc, stripe_api, booking)
    refund = stripe_api.refund_in_dashboard(intent.reference)
    assert refund["metadata"] == {}  # nothing names the booking but the charge
    [(payload, header)] = sent(sc, "refund.created")
    assert (await deliver(client, sc, payload, header)).json()["outcome"] == "ignored"
    [(payload, header)] = sent(sc, "charge.refunded")
    r = await deliver(client, sc, payload, header)
    assert r.json()["outcome"] == "refunded"
    after = await sc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.confirmed, "refunded")
    [recorded] = [e for e in await sc.events(booking.id) if e.kind == "refunded"]
    assert recorded.data["reason"] == "refunded_at_stripe" and recorded.data["amount_fen"] == 5000
    # Cancelling afterwards gives nothing back a second time.
    with use_city(sc.city):
        await service.cancel_booking(sc.rt, member_id=booking.member_id, booking_id=booking.id)
    assert await run_topic(sc, "payment.refund") == []
    assert len(sc.account.refunds) == 1


async def test_refund_events_naming_no_booking_of_the_city_are_ignored(client, stripe_city, stripe_api):
    sc = stripe_city
    booking, _, refund = await cancelled_and_refunded(sc, stripe_api, refund_status="pending")
    for metadata in ({}, {"booking_ref": booking.id, "city": "another-city"}):
        body = json.dumps({"id": f"evt_{len(metadata)}", "object": "event", "type": "refund.updated",
                           "data": {"object": {**refund, "status": "succeeded", "metadata": metadata}}})
        r = await deliver(client, sc, body, sign(body, sc.account.webhook_secret))
        assert r.status_code == 200 and r.json()["outcome"] == "ignored"
    assert (await sc.booking(booking.id)).payment_status == "paid"
