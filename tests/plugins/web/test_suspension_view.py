"""After the hospital suspends a session (停诊) the patient reads why the booking was cancelled,
what became of the fee and can book the same doctor again in one tap; the doctor's page keeps
the session listed as 停诊 with nothing to book."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from guahao.core.audit import Actor
from guahao.core.backoffice import changes
from guahao.core.booking import events
from guahao.core.models import Booking, OutboxMessage
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city

SCHEDULER = Actor("staff", 7, name="排班员小李", role="hospital_scheduler")

TEXT = {
    "zh-CN": {"cancelled": "已取消", "reason": "医院停诊", "at_hospital": "无需退款", "again": "重新预约",
              "suspended": "停诊", "pending": "退款处理中", "refunded": "已退款", "failed": "退款未成功"},
    "en": {"cancelled": "Cancelled", "reason": "The hospital suspended the session",
           "at_hospital": "Nothing to refund: the fee is paid at the hospital", "again": "Book again",
           "suspended": "Cancelled by the hospital", "pending": "Refund in progress", "refunded": "Refunded:",
           "failed": "The refund did not go through"},
}


def field(html: str, ident: str) -> str:
    match = re.search(rf'id="{ident}"[^>]*>(.*?)</(?:dd|p|a)>', html, re.S)
    assert match, f"no #{ident}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


async def book(visitor, cat, lang: str, index: int = 4) -> tuple[str, object]:
    if lang == "en":
        assert (await visitor.set_language("en")).status_code == 303
    assert (await visitor.register()).status_code == 303
    cs = cat.sessions[index]
    booked = await visitor.book(cat.periods[cs.id][0].id)
    return re.search(r"bookings/([^?]+)\?new=1", booked.headers["location"]).group(1), cs


async def suspend(rt, cat, cs) -> None:
    with use_city(cat.city):
        result = await changes.suspend(rt, cs.id, reason="医生临时外出会诊", actor=SCHEDULER,
                                       hospital_id=cat.hospital.id)
    assert result.plan.cancelled == 1


async def update_booking(rt, cat, ref: str, **values) -> Booking:
    with use_city(cat.city):
        async with rt.db.transaction() as s:
            booking = await s.scalar(select(Booking).where(Booking.id == ref))
            for name, value in values.items():
                setattr(booking, name, value)
            return booking


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_suspended_booking_says_why_what_of_the_fee_and_offers_the_doctor_again(rt, visitor, site_city, lang):
    cat, text = site_city, TEXT[lang]
    ref, cs = await book(visitor, cat, lang, index=0)
    page = await visitor.get(f"bookings/{ref}")
    assert 'id="refund"' not in page.text and 'id="rebook"' not in page.text
    await suspend(rt, cat, cs)

    page = await visitor.get(f"bookings/{ref}")
    assert page.status_code == 200
    assert field(page.text, "booking-status") == text["cancelled"]
    assert field(page.text, "cancel-reason") == text["reason"]
    assert 'id="suspended"' in page.text
    assert 'data-state="at_hospital"' in page.text and field(page.text, "refund").startswith(text["at_hospital"])
    root = visitor.root
    assert f'id="rebook-doctor" href="{root}doctors/{cat.doctor.id}"' in page.text
    assert text["again"] in field(page.text, "rebook-doctor")
    assert f'id="rebook-department" href="{root}departments/{cat.department.id}"' in page.text
    assert "session_suspended" not in page.text and "status:" not in page.text

    doctor = await visitor.get(f"doctors/{cat.doctor.id}")
    assert doctor.status_code == 200
    day = re.search(rf'<li class="day suspended" id="session-{cs.id}">(.*?)</li>', doctor.text, re.S)
    assert day, "the suspended session is not listed"
    assert cs.date.isoformat() in day.group(1) and text["suspended"] in day.group(1)
    assert "book/" not in day.group(1)
    for period in cat.periods[cs.id]:
        assert f"book/{period.id}\"" not in doctor.text
    other = next_session(cat, cs)
    assert f'id="session-{other.id}"' in doctor.text and f"book/{cat.periods[other.id][0].id}\"" in doctor.text


def next_session(cat, cs):
    """The session of ``cs``'s doctor on the next day (still open, still bookable)."""
    return next(other for other in cat.sessions if other.doctor_id == cs.doctor_id and other.date > cs.date)


async def test_a_member_cancellation_shows_no_rebook_and_nothing_to_refund(visitor, site_city):
    ref, _cs = await book(visitor, site_city, "zh-CN")
    assert (await visitor.post(f"bookings/{ref}/cancel", {})).status_code == 303
    page = await visitor.get(f"bookings/{ref}")
    assert field(page.text, "cancel-reason") == "您本人取消"
    assert 'data-state="at_hospital"' in page.text
    assert 'id="rebook"' not in page.text and 'id="suspended"' not in page.text


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_a_suspended_online_paid_booking_shows_the_refund_as_it_goes(rt, visitor, site_city, lang):
    """A booking paid online (its payment recorded as a provider's callback leaves it): the
    suspension asks for the refund; the page says it is under way, then done, or that it failed."""
    cat, text = site_city, TEXT[lang]
    ref, cs = await book(visitor, cat, lang)
    await update_booking(rt, cat, ref, payment_status="paid", payment_provider="stripe", payment_ref="pi_test_1")
    await suspend(rt, cat, cs)
    with use_city(cat.city):
        async with rt.db.transaction() as s:
            planned = (await s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "payment.refund"))).all()
    assert [m.payload["booking_id"] for m in planned] == [ref]

    page = await visitor.get(f"bookings/{ref}")
    assert field(page.text, "cancel-reason") == text["reason"]
    assert 'data-state="refund_pending"' in page.text and field(page.text, "refund").startswith(text["pending"])

    with use_city(cat.city):
        async with rt.db.transaction() as s:
            booking = await s.scalar(select(Booking).where(Booking.id == ref))
            events.record(s, booking, "refund_failed", at=utcnow(), actor="payment:stripe",
                          data={"payment_ref": "pi_test_1", "status": "failed"})
            await events.write(s)
    page = await visitor.get(f"bookings/{ref}")
    assert 'data-state="refund_failed"' in page.text and field(page.text, "refund").startswith(text["failed"])

    await update_booking(rt, cat, ref, payment_status="refunded")
    page = await visitor.get(f"bookings/{ref}")
    assert 'data-state="refunded"' in page.text and field(page.text, "refund").startswith(text["refunded"])
    assert 'id="rebook-doctor"' in page.text
