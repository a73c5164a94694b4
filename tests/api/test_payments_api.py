"""Paying a held booking through the API: the pay link from the city's provider (a local fake
Stripe), the status asked of the provider when the member is back, and the refusals."""

import uuid
from datetime import timedelta

from guahao.core.members.tokens import issue
from guahao.tenants.clock import frozen, utcnow
from tests.factories import make_catalogue, make_city
from tests.plugins.stripe.conftest import enable_stripe

from .conftest import signup, url


async def test_pay_link_then_paid(client, rt, city, member, stripe_api):
    cat = await make_catalogue(rt, city, payment_mode="online")
    await enable_stripe(rt, city, stripe_api, stripe_api.add_account())
    pid = cat.periods[cat.sessions[0].id][0].id
    booking = (await client.post(url(city, "/bookings"), json={"period_id": pid}, headers=member.headers)).json()
    ref = booking["id"]
    payment = url(city, f"/bookings/{ref}/payment")

    r = await client.get(payment, headers=member.headers)
    assert r.status_code == 200 and r.json()["status"] == "pending_payment"
    assert r.json()["fee_fen"] == booking["fee_fen"] and r.json()["hold_expires_at"] == booking["hold_expires_at"]

    r = await client.post(payment, headers=member.headers)
    assert r.status_code == 200, r.text
    link = r.json()
    assert link["booking_id"] == ref and link["online"] and link["amount_fen"] == booking["fee_fen"]
    assert link["redirect_url"].startswith(f"{stripe_api.url}/pay/cs_test_")
    again = (await client.post(payment, headers=member.headers)).json()
    assert again["redirect_url"] == link["redirect_url"]  # the same payment, not a second one

    stripe_api.pay(link["redirect_url"].rsplit("/", 1)[1])  # the member pays on the provider's page
    r = await client.get(payment, headers=member.headers)  # back before the webhook: the provider is asked
    assert r.json()["status"] == "confirmed" and r.json()["payment_status"] == "paid"
    r = await client.post(payment, headers=member.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "invalid_state")

    other = await signup(client, rt, city)
    for method in ("GET", "POST"):
        r = await client.request(method, payment, headers=other.headers)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
        assert (await client.request(method, payment)).status_code == 401


async def test_nothing_to_pay_and_an_ended_hold(client, rt, city, catalogue, member, stripe_api):
    pid = catalogue.periods[catalogue.sessions[0].id][0].id  # a hospital paid at the window
    ref = (await client.post(url(city, "/bookings"), json={"period_id": pid}, headers=member.headers)).json()["id"]
    r = await client.post(url(city, f"/bookings/{ref}/payment"), headers=member.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "invalid_state")
    r = await client.get(url(city, f"/bookings/{ref}/payment"), headers=member.headers)
    assert r.json()["status"] == "confirmed" and r.json()["payment_status"] == "none"

    online = await make_catalogue(rt, await _second_city(rt), payment_mode="online")
    holder = await signup(client, rt, online.city)
    await enable_stripe(rt, online.city, stripe_api, stripe_api.add_account())
    pid = online.periods[online.sessions[0].id][0].id
    ref = (await client.post(url(online.city, "/bookings"), json={"period_id": pid}, headers=holder.headers)).json()["id"]
    with frozen(utcnow() + timedelta(hours=1)):
        token, _ = issue(rt.settings, member_id=holder.id, city_id=online.city.id)
        r = await client.post(url(online.city, f"/bookings/{ref}/payment"), headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "hold_expired")


async def _second_city(rt):
    """A city of its own for the online hospital (the first city's catalogue is paid at the window)."""
    return await make_city(rt, f"pay-{uuid.uuid4().hex[:6]}", cancel_days_before=0)
