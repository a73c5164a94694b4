"""My bookings: accepting a waiting-list offer, and the survey and review links after a visit."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from guahao.core.booking import engine
from guahao.core.models import Booking, BookingStatus
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve, run

from .conftest import csrf_of, id_number
from .test_feedback import checked_in


async def offered(rt, visitor, site_city) -> Booking:
    """Fill the last session, put the visitor on its waiting list, free one slot: an offer."""
    city, cs = site_city.city, site_city.sessions[-1]
    holders = []
    for period in site_city.periods[cs.id]:
        for _ in range(site_city.public_pool(period.id).capacity):
            holders.append(await reserve(rt, city, await make_member(rt, city), period.id))
    doctor = await visitor.get(f"doctors/{site_city.doctor.id}")
    joined = await visitor.post("waitlist", {"session_id": str(cs.id)}, form_page=f"doctors/{site_city.doctor.id}")
    assert doctor.status_code == 200 and joined.status_code == 303
    await run(rt, city, engine.cancel, holders[0].id, enforce_cutoff=False)
    with use_city(city):
        async with rt.db.transaction() as s:
            offer = await s.scalar(select(Booking).where(Booking.status == BookingStatus.offered))
    assert offer is not None
    return offer


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_accept_an_offer_from_my_bookings(visitor, rt, site_city, lang):
    if lang == "en":
        await visitor.set_language("en")
    await visitor.register()
    offer = await offered(rt, visitor, site_city)
    page = await visitor.get("bookings")
    assert f'id="offer-{offer.id}"' in page.text and f'id="accept-{offer.id}"' in page.text
    deadline = offer.hold_expires_at.astimezone(site_city.city.tz).strftime("%Y-%m-%d %H:%M")
    assert deadline in page.text
    assert ("请于" if lang == "zh-CN" else "Please accept it by") in page.text
    detail = await visitor.get(f"bookings/{offer.id}")
    assert 'id="accept"' in detail.text

    r = await visitor.post(f"bookings/{offer.id}/accept", {}, form_page="bookings")
    assert r.status_code == 303 and r.headers["location"].endswith(f"bookings/{offer.id}?done=accepted")
    done = await visitor.get(f"bookings/{offer.id}?done=accepted")
    assert 'id="notice"' in done.text and 'id="accept"' not in done.text
    assert ("您已接受" if lang == "zh-CN" else "You have accepted the offered slot.") in done.text
    status = re.search(r'id="booking-status">([^<]+)<', done.text).group(1)
    assert status == ("已预约" if lang == "zh-CN" else "Confirmed")
    async with rt.db.transaction() as s:
        with use_city(site_city.city):
            assert (await s.get(Booking, offer.id)).status == BookingStatus.confirmed

    again = await visitor.post(f"bookings/{offer.id}/accept", {}, form_page="bookings")
    assert again.status_code == 409 and 'id="error"' in again.text


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_late_acceptance_is_refused_with_a_sentence(visitor, rt, site_city, lang):
    if lang == "en":
        await visitor.set_language("en")
    await visitor.register()
    offer = await offered(rt, visitor, site_city)
    page = await visitor.get("bookings")
    with frozen(offer.hold_expires_at + timedelta(seconds=1)):
        r = await visitor.client.post(visitor.root + f"bookings/{offer.id}/accept", data={"csrf": csrf_of(page.text)})
    assert r.status_code in (409, 410) and 'id="error"' in r.text
    assert ("候补号源的确认时间已过" if lang == "zh-CN" else "The time to accept the offered slot has passed") in r.text


async def test_accept_needs_the_form_token_and_the_owner(visitor, client, rt, site_city):
    await visitor.register()
    offer = await offered(rt, visitor, site_city)
    forged = await client.post(visitor.root + f"bookings/{offer.id}/accept", data={"csrf": "forged"})
    assert forged.status_code == 403
    async with rt.db.transaction() as s:
        with use_city(site_city.city):
            assert (await s.get(Booking, offer.id)).status == BookingStatus.offered
    await visitor.post("logout", {}, form_page="")
    await visitor.register(name="李四", number=id_number("11010519851111002"), phone="13900139000")
    other = await visitor.post(f"bookings/{offer.id}/accept", {}, form_page="bookings")
    assert other.status_code == 404


async def test_my_past_bookings_link_to_the_survey_and_review(visitor, rt, site_city):
    await visitor.register()
    ref = await checked_in(rt, visitor, site_city)
    with frozen(site_city.sessions[4].ends_at + timedelta(hours=3)):
        past = await visitor.get("bookings?scope=past")
    assert f'id="survey-{ref}"' in past.text and f'id="review-{ref}"' in past.text
    survey = re.search(rf'id="survey-{ref}" href="([^"]+)"', past.text).group(1)
    assert (await visitor.client.get(survey)).status_code == 200
    await visitor.post(f"review/{ref}", {"rating": "5", "comment": "好医生"}, form_page=f"review/{ref}")
    with frozen(site_city.sessions[4].ends_at + timedelta(hours=3)):
        after = await visitor.get("bookings?scope=past")
    assert f'id="survey-{ref}"' in after.text and f'id="review-{ref}"' not in after.text
    with frozen(site_city.sessions[4].ends_at + timedelta(days=8)):
        late = await visitor.get("bookings?scope=past")
    assert f'id="survey-{ref}"' not in late.text
    upcoming = await visitor.get("bookings")
    assert 'id="survey-' not in upcoming.text
