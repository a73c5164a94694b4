"""The patient site with an online-payment hospital: book → pay page → Stripe's page → back
to a confirmed booking; waiting and expired states; unpaid holds in My bookings."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from guahao.core.booking import service
from guahao.core.plugins.manager import configure
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.plugins.web.conftest import Visitor, csrf_of

from .test_webhook import deliver


async def booked_and_held(client, sc) -> tuple[Visitor, str]:
    await configure(sc.rt, sc.city, "web")
    visitor = Visitor(client, sc.city.slug)
    assert (await visitor.register()).status_code == 303
    period = sc.cat.periods[sc.cat.sessions[2].id][0]
    confirm = await visitor.get(f"book/{period.id}")
    assert "预约后在线支付" in confirm.text and "15 分钟" in confirm.text
    booked = await visitor.book(period.id)
    assert booked.status_code == 303
    ref = re.search(r"bookings/([^/]+)/pay$", booked.headers["location"]).group(1)
    return visitor, ref


async def test_book_pay_on_stripe_and_return_confirmed(client, stripe_city, stripe_api):
    sc = stripe_city
    visitor, ref = await booked_and_held(client, sc)
    page = await visitor.get(f"bookings/{ref}/pay")
    assert page.status_code == 200 and "¥50.00" in page.text and 'id="pay"' in page.text
    held = (await sc.booking(ref)).hold_expires_at.astimezone(sc.city.tz).strftime("%Y-%m-%d %H:%M")
    assert held in page.text
    mine = await visitor.get("bookings")
    assert f'id="pay-{ref}"' in mine.text and held in mine.text

    go = await visitor.client.post(visitor.root + f"bookings/{ref}/pay", data={"csrf": csrf_of(page.text)})
    assert go.status_code == 303 and go.headers["location"].startswith(f"{stripe_api.url}/pay/cs_test_")
    back = await visitor.get(f"bookings/{ref}/paid")  # before paying: still waiting
    assert 'data-state="waiting"' in back.text and 'id="refresh"' in back.text

    async with httpx.AsyncClient() as browser:  # the member on Stripe's page
        checkout = await browser.get(go.headers["location"])
        assert "50.00 CNY" in checkout.text and "王建国" in checkout.text
        done = await browser.post(go.headers["location"], data={"action": "pay"})
    assert done.status_code == 303
    success = done.headers["location"]
    assert success.startswith(f"http://testserver/c/{sc.city.slug}/bookings/{ref}/paid?session_id=cs_test_")
    _, payload, header = sc.account.events[-1]
    assert (await deliver(client, sc, payload, header)).json()["outcome"] == "confirmed"
    landed = await client.get(success)
    assert 'data-state="paid"' in landed.text and "支付成功，预约已确认" in landed.text
    detail = await visitor.get(f"bookings/{ref}")
    assert "已在线支付" in detail.text and 'id="pay"' not in detail.text


async def test_returning_before_the_webhook_asks_stripe(client, stripe_city, stripe_api):
    sc = stripe_city
    visitor, ref = await booked_and_held(client, sc)
    page = await visitor.get(f"bookings/{ref}/pay")
    go = await visitor.client.post(visitor.root + f"bookings/{ref}/pay", data={"csrf": csrf_of(page.text)})
    stripe_api.pay(go.headers["location"].rsplit("/", 1)[1])
    landed = await visitor.get(f"bookings/{ref}/paid")
    assert 'data-state="paid"' in landed.text
    _, payload, header = sc.account.events[-1]
    assert (await deliver(client, sc, payload, header)).json()["outcome"] == "duplicate"


async def test_leaving_stripe_and_an_ended_hold(client, stripe_city, stripe_api):
    sc = stripe_city
    visitor, ref = await booked_and_held(client, sc)
    left = await visitor.get(f"bookings/{ref}/paid?cancelled=1")
    assert left.status_code == 303 and left.headers["location"].endswith(f"bookings/{ref}/pay?cancelled=1")
    again = await visitor.get(f"bookings/{ref}/pay?cancelled=1")
    assert 'id="notice"' in again.text and 'id="pay"' in again.text
    booking = await sc.booking(ref)
    with frozen(booking.hold_expires_at + timedelta(seconds=1)):
        with use_city(sc.city):
            await service.expire_hold(sc.rt, ref)
        gone = await visitor.get(f"bookings/{ref}/pay")
        assert gone.status_code == 303
        page = await visitor.get(f"bookings/{ref}/paid")
    assert 'data-state="expired"' in page.text and "支付时间已过" in page.text
    assert utcnow() < booking.hold_expires_at + timedelta(minutes=1)


async def test_english_pay_page(client, stripe_city):
    sc = stripe_city
    visitor, ref = await booked_and_held(client, sc)
    await visitor.set_language("en")
    page = await visitor.get(f"bookings/{ref}/pay")
    assert "Pay the registration fee" in page.text and "Pay now" in page.text
