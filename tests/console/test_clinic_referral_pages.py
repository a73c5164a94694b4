"""A doctor's in-clinic booking page and a community clerk's referral pages."""

from __future__ import annotations

from sqlalchemy import select

from guahao.core.models import Booking, Referral
from guahao.tenants.context import use_city
from tests.core.backoffice.conftest import register_member
from tests.factories import make_catalogue

from .conftest import add_hospital, add_staff


async def _bookings(rt, city, member_id) -> list[Booking]:
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(Booking).where(Booking.member_id == member_id))).all())


async def test_doctor_books_a_follow_up_into_own_clinic_pool(rt, city, browser):
    cat = await make_catalogue(rt, city, extra_pools={"clinic": 1})
    member_id, number, phone = await register_member(rt, city, name="周八")
    doctor = await add_staff(rt, city, "doctor", hospital_id=cat.hospital.id, doctor_id=cat.doctor.id)
    await browser.login(doctor)
    base = f"/console/c/{city.slug}"

    page = await browser.get(f"{base}/clinic")
    assert page.status_code == 200 and 'id="nav-clinic"' in page.text
    own = [cs for cs in cat.sessions if cs.doctor_id == cat.doctor.id]
    others = [cs for cs in cat.sessions if cs.doctor_id != cat.doctor.id]
    assert all(f'id="session-{cs.id}"' in page.text for cs in own)
    assert not any(f'id="session-{cs.id}"' in page.text for cs in others)

    period = cat.periods[own[0].id][0]
    nobody = await browser.post(f"{base}/clinic/book", {"period_id": str(period.id), "q": "13900000001"})
    assert nobody.status_code == 404 and 'id="booking-error"' in nobody.text
    r = await browser.post(f"{base}/clinic/book", {"period_id": str(period.id), "q": number})
    assert r.status_code == 303
    [made] = await _bookings(rt, city, member_id)
    assert (made.channel, made.period_id) == ("clinic", period.id)
    page = await browser.get(f"{base}/clinic")
    assert f'id="period-{period.id}" disabled' in page.text

    # the pool is used up: the engine's refusal as a sentence
    second, _, phone2 = await register_member(rt, city, name="吴九")
    full = await browser.post(f"{base}/clinic/book", {"period_id": str(period.id), "q": phone2})
    assert full.status_code in (403, 409) and 'id="booking-error"' in full.text
    assert await _bookings(rt, city, second) == []

    # another doctor's session: 404, nothing booked
    theirs = cat.periods[others[0].id][0]
    r = await browser.post(f"{base}/clinic/book", {"period_id": str(theirs.id), "q": phone2})
    assert r.status_code == 404
    assert await _bookings(rt, city, second) == []
    refused = await browser.post(f"{base}/clinic/book", {"period_id": str(period.id), "q": phone2}, csrf="nope")
    assert refused.status_code == 403


async def test_clerk_refers_a_patient_and_sees_only_own_referrals(rt, city, browser, new_browser):
    cat = await make_catalogue(rt, city, extra_pools={"referral": 2}, second_campus=("南院区", "南山区滨河大道 210 号"))
    centre_a = await add_hospital(rt, city, "SQA", kind="community")
    centre_b = await add_hospital(rt, city, "SQB", kind="community")
    clerk_a = await add_staff(rt, city, "referral_clerk", hospital_id=centre_a.id)
    clerk_b = await add_staff(rt, city, "referral_clerk", hospital_id=centre_b.id)
    member_id, number, phone = await register_member(rt, city, name="郑十")
    await browser.login(clerk_a)
    base = f"/console/c/{city.slug}"

    page = await browser.get(f"{base}/referral")
    assert page.status_code == 200 and f'value="{cat.hospital.id}"' in page.text
    assert f'value="{centre_a.id}"' not in page.text
    page = await browser.get(f"{base}/referral", params={"hospital_id": cat.hospital.id,
                                                         "department_id": cat.department.id})
    period = cat.periods[cat.sessions[0].id][0]
    assert f'id="period-{period.id}"' in page.text
    # Each session names where the patient is sent: the second doctor works at the south campus.
    south = cat.sessions[1]
    assert f'id="session-{south.id}-place">南院区 · 南山区滨河大道 210 号<' in page.text
    assert f'id="session-{cat.sessions[0].id}-place">本部<' in page.text

    r = await browser.post(f"{base}/referral/book", {"period_id": str(period.id), "q": phone, "note": "高血压复查",
                                                     "hospital_id": str(cat.hospital.id)})
    assert r.status_code == 303
    [made] = await _bookings(rt, city, member_id)
    assert made.channel == "referral"
    with use_city(city):
        async with rt.db.transaction() as s:
            [ref] = (await s.scalars(select(Referral))).all()
    assert (ref.centre_id, ref.note) == (centre_a.id, "高血压复查")
    listing = await browser.get(f"{base}/referral/list")
    assert f'id="referral-{made.id}"' in listing.text and "高血压复查" in listing.text and "郑*" in listing.text

    # the same session again is refused with the engine's sentence
    again = await browser.post(f"{base}/referral/book", {"period_id": str(cat.periods[cat.sessions[0].id][1].id),
                                                         "q": number, "hospital_id": str(cat.hospital.id),
                                                         "department_id": str(cat.department.id)})
    assert again.status_code == 409 and 'id="booking-error"' in again.text

    other = new_browser()
    await other.login(clerk_b)
    theirs = await other.get(f"{base}/referral/list", params={"centre_id": centre_a.id})
    assert theirs.status_code == 200 and made.id not in theirs.text
    # choosing one's own centre as the target: not offered, 404 when forced
    assert (await other.get(f"{base}/referral", params={"hospital_id": centre_b.id})).status_code == 404
