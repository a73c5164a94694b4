"""In-clinic and referral bookings (R5.7, R5.8), a session's booking list and check-in (R11.2)."""

from __future__ import annotations

import pytest

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.backoffice import referrals, roster
from guahao.core.errors import DomainError
from guahao.core.models import Hospital
from guahao.tenants.context import use_city
from tests.core.booking.helpers import booking, reserve
from tests.factories import make_catalogue

from .conftest import register_member

DOCTOR = Actor("staff", 31, name="王建国", role="doctor")
CLERK = Actor("staff", 41, name="转诊员", role="referral_clerk")


async def centre(rt, city, kind: str = "community") -> int:
    with use_city(city):
        async with rt.db.transaction() as s:
            h = Hospital(code=f"C-{kind}", name="东城社区卫生服务中心", kind=kind, level=1)
            s.add(h)
            await s.flush()
            return h.id


async def test_a_doctor_books_a_follow_up_into_their_own_clinic_pool(rt, city):
    cat = await make_catalogue(rt, city, extra_pools={"clinic": 1, "referral": 1})
    mine, theirs = cat.sessions[2], cat.sessions[1]
    assert mine.doctor_id == cat.doctor.id != theirs.doctor_id
    member_id, _, _ = await register_member(rt, city)
    with use_city(city):
        view = await referrals.book_in_clinic(rt, doctor_id=cat.doctor.id, member_id=member_id,
                                              period_id=cat.periods[mine.id][0].id, actor=DOCTOR,
                                              hospital_id=cat.hospital.id)
        made = await booking(rt, city, view["id"])
        assert (made.channel, made.created_by) == ("clinic", "clinic:%d:31" % cat.doctor.id)
        other, _, _ = await register_member(rt, city)
        with pytest.raises(DomainError) as err:
            await referrals.book_in_clinic(rt, doctor_id=cat.doctor.id, member_id=other,
                                           period_id=cat.periods[theirs.id][0].id, actor=DOCTOR)
        assert err.value.code == "not_own_session"
        with pytest.raises(DomainError) as err:  # the clinic pool of that period is used up
            await referrals.book_in_clinic(rt, doctor_id=cat.doctor.id, member_id=other,
                                           period_id=cat.periods[mine.id][0].id, actor=DOCTOR)
        assert err.value.code == "slot_full"


async def test_a_community_centre_refers_into_the_referral_pool(rt, city):
    cat = await make_catalogue(rt, city, extra_pools={"referral": 1})
    centre_id = await centre(rt, city)
    member_id, _, _ = await register_member(rt, city)
    period = cat.periods[cat.sessions[0].id][0]
    with use_city(city):
        view = await referrals.book_referral(rt, centre_id=centre_id, member_id=member_id, period_id=period.id,
                                             actor=CLERK, note="高血压控制不佳，请专科评估")
        made = await booking(rt, city, view["id"])
        assert (made.channel, made.created_by) == ("referral", f"referral:{centre_id}:41")
        [(ref, b)] = await referrals.list_referrals(rt, centre_id=centre_id)
        assert (ref.hospital_id, ref.staff_id, b.id, ref.note) == (cat.hospital.id, 41, made.id, "高血压控制不佳，请专科评估")
        assert await referrals.list_referrals(rt, hospital_id=cat.hospital.id + 1) == []
        with pytest.raises(DomainError) as err:
            await referrals.book_referral(rt, centre_id=cat.hospital.id, member_id=member_id, period_id=period.id,
                                          actor=CLERK)
        assert err.value.code == "not_a_community_centre"
        async with rt.db.transaction() as s:
            assert [e.action for e in await audit.search(s, action="referral")] == ["referral.book"]


async def test_booking_list_masks_patients_and_staff_check_in(rt, city, catalogue, scheduler):
    cs = catalogue.sessions[0]
    member_id, number, phone = await register_member(rt, city, name="孙悟空")
    b = await reserve(rt, city, member_id, catalogue.periods[cs.id][1].id)
    with use_city(city):
        listed = await roster.session_bookings(rt, cs.id, hospital_id=catalogue.hospital.id)
        [row] = listed.rows
        assert (row.booking_id, row.member_name, row.status, row.pool, row.start) == (
            b.id,
            "孙**",
            "confirmed",
            "public",
            "09:00",
        )
        assert phone not in row.phone and number not in row.id_number and row.id_number.endswith(number[-4:])
        with pytest.raises(DomainError) as err:
            await roster.check_in(rt, b.id, actor=scheduler, hospital_id=catalogue.hospital.id + 1)
        assert err.value.code == "not_found"
        view = await roster.check_in(rt, b.id, actor=scheduler, hospital_id=catalogue.hospital.id)
        assert view["status"] == "checked_in" and view["checked_in_at"]
        again = await roster.session_bookings(rt, cs.id)
        assert again.rows[0].checked_in_at is not None
        async with rt.db.transaction() as s:
            [entry] = await audit.search(s, action="booking.check_in")
        assert entry.target_id == b.id and entry.actor == "staff:7"


async def test_a_hospital_answers_and_closes_its_own_complaints(rt, city, catalogue, scheduler):
    from guahao.core.backoffice import complaints as desk
    from guahao.core.feedback.complaints import submit_complaint

    member_id, _, _ = await register_member(rt, city)
    with use_city(city):
        async with rt.db.transaction() as s:
            filed = await submit_complaint(s, member_id=member_id, hospital_id=catalogue.hospital.id,
                                           category="waiting", text="候诊时间过长")
        [listed] = await desk.hospital_complaints(rt, catalogue.hospital.id, status="submitted")
        assert listed.id == filed.id
        assert await desk.hospital_complaints(rt, catalogue.hospital.id + 1) == []
        with pytest.raises(DomainError) as err:
            await desk.reply(rt, filed.id, text="抱歉", actor=scheduler, hospital_id=catalogue.hospital.id + 1)
        assert err.value.code == "not_found"
        answered = await desk.reply(rt, filed.id, text="已优化分诊流程，感谢反馈", actor=scheduler,
                                    hospital_id=catalogue.hospital.id)
        assert (answered.status, answered.replied_by) == ("replied", "排班员小李")
        closed = await desk.close(rt, filed.id, actor=scheduler, hospital_id=catalogue.hospital.id)
        assert closed.status == "closed"
        await desk.close(rt, filed.id, actor=scheduler)
        async with rt.db.transaction() as s:
            assert [e.action for e in await audit.search(s, action="complaint")] == ["complaint.close", "complaint.reply"]
