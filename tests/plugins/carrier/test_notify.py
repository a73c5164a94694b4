"""The carrier's result callback through the app: duplicated, replayed, forged, tampered, stale,
oversized and out-of-order callbacks change nothing; a wrong amount is refused and kept."""

from __future__ import annotations

import asyncio
import json
import secrets

from guahao.core.models import BookingStatus
from guahao.core.plugins.manager import configure
from guahao.tenants.clock import utcnow


def notify_path(cc) -> str:
    return f"/c/{cc.city.slug}/plugins/carrier/notify"


async def paid_callback(cc, booking):
    intent = await cc.start(booking)
    return intent, cc.api.reply(cc.account, intent.reference, "Y")


async def unchanged(cc, booking) -> None:
    held = await cc.booking(booking.id)
    assert (held.status, held.payment_status) == (BookingStatus.pending_payment, "unpaid")
    assert not await cc.callbacks()


async def test_a_callback_resent_by_the_carrier_acts_once(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent, callback = await paid_callback(cc, booking)
    assert (await cc.deliver(client, callback)).json()["outcome"] == "confirmed"
    resent = cc.api.callback(cc.account, callback.url, callback.body)  # the same result, a fresh nonce
    answer = await cc.deliver(client, resent)
    assert (answer.status_code, answer.json()) == (200, {"code": "ok", "outcome": "duplicate"})
    [row] = await cc.callbacks()
    assert row.outcome == "confirmed"
    after = await cc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.confirmed, "paid")
    assert [e.kind for e in await cc.events(booking.id)].count("confirmed") == 1
    # The same payment under a new notify id (a carrier that lost its own record): no second confirmation.
    again = cc.api.result(cc.account, cc.account.orders[intent.reference])
    assert (await cc.deliver(client, again)).json()["outcome"] == "duplicate"
    assert not await cc.outbox("payment.refund")


async def test_a_replayed_callback_is_refused_by_its_nonce(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    _, callback = await paid_callback(cc, booking)
    stolen = cc.api.callback(cc.account, callback.url, callback.body, nonce=callback.headers["X-Carrier-Nonce"])
    assert (await cc.deliver(client, callback)).status_code == 200
    replay = await cc.deliver(client, stolen)  # the captured request, sent again within its window
    assert (replay.status_code, replay.json()["code"]) == (409, "replayed_nonce")
    assert len(await cc.callbacks()) == 1


async def test_forged_tampered_and_stale_callbacks_change_nothing(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    _, callback = await paid_callback(cc, booking)
    forged = cc.api.callback(cc.account, callback.url, callback.body, secret=secrets.token_urlsafe(36))
    tampered = {**callback.headers}
    body = callback.fields | {"amount_fen": 1}
    stale = cc.api.callback(cc.account, callback.url, callback.body, timestamp=int(utcnow().timestamp()) - 301)
    future = cc.api.callback(cc.account, callback.url, callback.body, timestamp=int(utcnow().timestamp()) + 301)
    stranger = {**callback.headers, "X-Carrier-Key-Id": "gh-someone-else"}
    answers = [
        await cc.deliver(client, forged),
        await client.post(callback.path, content=json.dumps(body).encode(), headers=tampered),
        await cc.deliver(client, stale),
        await cc.deliver(client, future),
        await client.post(callback.path, content=callback.body, headers=stranger),
        await client.post(callback.path, content=callback.body),  # no signature at all
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [
        (401, "invalid_signature"), (401, "invalid_signature"), (401, "stale"), (401, "stale"),
        (401, "unknown_key"), (401, "unknown_key")]
    assert all(a.json()["message"] for a in answers)
    await unchanged(cc, booking)
    assert (await cc.deliver(client, callback)).json()["outcome"] == "confirmed"  # the genuine one still counts


async def test_bodies_that_are_not_results_are_refused(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent, callback = await paid_callback(cc, booking)
    url = callback.url
    big = cc.api.callback(cc.account, url, b"{" + b" " * (33 * 1024) + b"}")
    bad = [cc.api.callback(cc.account, url, b"not json"),
           cc.api.callback(cc.account, url, callback.fields | {"status": "maybe"}),
           cc.api.callback(cc.account, url, callback.fields | {"amount_fen": "50.00"}),
           cc.api.callback(cc.account, url, callback.fields | {"type": "refund.result"})]
    assert (await cc.deliver(client, big)).status_code == 413
    for cb in bad:
        answer = await cc.deliver(client, cb)
        assert (answer.status_code, answer.json()["code"]) == (400, "invalid_payload")
    await unchanged(cc, booking)


async def test_a_wrong_amount_is_refused_and_kept(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent, callback = await paid_callback(cc, booking)
    wrong = cc.api.callback(cc.account, callback.url, callback.fields | {"amount_fen": 1})
    answer = await cc.deliver(client, wrong)
    assert (answer.status_code, answer.json()["code"]) == (409, "amount_mismatch")
    [row] = await cc.callbacks()
    assert row.outcome == "refused" and row.detail.startswith("amount_mismatch")
    held = await cc.booking(booking.id)
    assert (held.status, held.payment_status) == (BookingStatus.pending_payment, "unpaid")


async def test_an_old_failure_arriving_after_the_payment_changes_nothing(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    intent, callback = await paid_callback(cc, booking)
    early = cc.api.result(cc.account, cc.account.orders[intent.reference], status="expired")
    assert (await cc.deliver(client, callback)).json()["outcome"] == "confirmed"
    assert (await cc.deliver(client, early)).status_code == 200  # delivered out of order
    after = await cc.booking(booking.id)
    assert (after.status, after.payment_status) == (BookingStatus.confirmed, "paid")
    assert not [e for e in await cc.events(booking.id) if e.kind == "payment_failed"]


async def test_callbacks_for_another_city_or_an_old_key_change_nothing(rt, client, carrier_city, carrier_api):
    cc = carrier_city
    booking = await cc.held_booking()
    intent, callback = await paid_callback(cc, booking)
    elsewhere = cc.api.callback(cc.account, callback.url, callback.fields | {
        "order_no": f"GH{cc.city.id + 1000}C{booking.id.replace('-', '')}", "notify_id": "N-elsewhere"})
    answer = await cc.deliver(client, elsewhere)
    assert (answer.status_code, answer.json()["outcome"]) == (200, "ignored")
    rotated = {**cc.account.settings(carrier_api.gateway_url), "key_id": "gh-rotated"}  # the city moved to a new key
    await configure(rt, cc.city, "carrier", settings=rotated, secrets=cc.account.secrets())
    answer = await cc.deliver(client, cc.api.callback(cc.account, callback.url, callback.body))
    assert (answer.status_code, answer.json()["code"]) == (401, "unknown_key")
    held = await cc.booking(booking.id)
    assert held.status == BookingStatus.pending_payment


async def test_two_copies_at_once_confirm_once(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking()
    _, callback = await paid_callback(cc, booking)
    twin = cc.api.callback(cc.account, callback.url, callback.body)  # the carrier's retry, racing the first
    answers = await asyncio.gather(cc.deliver(client, callback), cc.deliver(client, twin))
    assert sorted(a.json()["outcome"] for a in answers) == ["confirmed", "duplicate"]
    assert [row.outcome for row in await cc.callbacks()] == ["confirmed"]
    assert [e.kind for e in await cc.events(booking.id)].count("confirmed") == 1
