"""The channel services (``plugin_api.channels``) SMS booking stands on, and a phone channel
will too: numbers, names, the catalogue found by words, the city's aliases, the rules the web
applies."""

from __future__ import annotations

import uuid

import pytest

from guahao.core.models import Doctor, Hospital
from guahao.plugin_api import DomainError, channels
from guahao.tenants.context import use_city
from tests.core.plugins.probes import make_member
from tests.factories import make_city

from .conftest import SmsCity


@pytest.mark.parametrize("typed", ["13800138000", "+8613800138000", "8613800138000", "008613800138000", "138 0013 8000",
                                   "138-0013-8000"])
def test_mobile_numbers_as_gateways_write_them(typed):
    assert channels.mainland_mobile(typed) == "13800138000"


@pytest.mark.parametrize("typed", ["", "12800138000", "1380013800", "+14155550100", "１３８００１３８０００"])
def test_what_is_not_a_mainland_mobile(typed):
    assert channels.mainland_mobile(typed) is None


def test_names_as_typed():
    member = channels.ChannelMember(1, "阿依古丽·买买提", "13800138000")
    assert channels.name_matches(member, "阿依古丽•买买提") and channels.name_matches(member, "阿依古丽 · 买买提")
    assert not channels.name_matches(member, "阿依古丽") and not channels.name_matches(member, "")
    assert channels.name_matches(channels.ChannelMember(2, "Li Lei", "13800138001"), "li lei")


async def test_the_member_of_a_phone_number(sms_city: SmsCity):
    rt = sms_city.rt
    member = await make_member(rt, sms_city.city)
    with use_city(sms_city.city):
        found = await channels.member_by_phone(rt, f"+86{member.phone}")
        assert found is not None and found.id == member.id and found.name == "张三"
        assert await channels.member_by_phone(rt, "13999999999") is None
    other = await make_city(rt, f"o{uuid.uuid4().hex[:8]}")
    with use_city(other):  # another city's member is not found from this city
        assert await channels.member_by_phone(rt, member.phone) is None


async def test_hospitals_departments_and_doctors_by_words(sms_city: SmsCity):
    rt = sms_city.rt
    with use_city(sms_city.city):
        async with rt.db.transaction() as s:
            s.add_all([Hospital(code="H2", name="第一中医院", short_name="一中医"),
                       Hospital(code="H3", name="第一妇幼保健院", active=False)])
        hospital_id = sms_city.cat.hospital.id
        for text in ("H1", "h1", "第一人民医院", "市一院", "第一人民"):
            assert [c.code for c in await channels.find_hospitals(rt, text)] == ["H1"], text
        assert [c.code for c in await channels.find_hospitals(rt, "第一")] == ["H1", "H2"]  # the closed one is left out
        assert [c.code for c in await channels.find_hospitals(rt, "一院", aliases={"一院": "H1"})] == ["H1"]
        assert await channels.find_hospitals(rt, "人民公园") == []
        assert await channels.find_hospitals(rt, "医院") != []  # a generic word alone matches by name
        for text in ("03.01", "呼吸内科", "呼吸", "呼吸科"):
            assert [c.name for c in await channels.find_departments(rt, hospital_id, text)] == ["呼吸内科"], text
        department_id = sms_city.cat.department.id
        assert [c.name for c in await channels.find_doctors(rt, hospital_id, department_id, "王建国")] == ["王建国"]
        assert [c.name for c in await channels.find_doctors(rt, hospital_id, department_id, "王")] == ["王建国"]
        assert await channels.find_doctors(rt, hospital_id, department_id, "赵") == []


async def test_same_surname_doctors_are_both_offered(sms_city: SmsCity):
    rt, cat = sms_city.rt, sms_city.cat
    with use_city(sms_city.city):
        async with rt.db.transaction() as s:
            s.add(Doctor(hospital_id=cat.hospital.id, department_id=cat.department.id, name="王芳", title="attending"))
        found = await channels.find_doctors(rt, cat.hospital.id, cat.department.id, "王")
    assert [(c.name, c.detail) for c in found] == [("王建国", "主任医师"), ("王芳", "主治医师")]


async def test_the_web_rules_apply_to_channel_bookings(sms_city: SmsCity):
    rt, cat = sms_city.rt, sms_city.cat
    member = await make_member(rt, sms_city.city)
    with use_city(sms_city.city):
        slots = await channels.find_slots(rt, department_id=cat.department.id, day=sms_city.tomorrow, half_day="am",
                                          doctor_id=cat.doctor.id)
        assert [s.doctor_name for s in slots] == ["王建国"] and slots[0].released and slots[0].remaining == 4
        assert await channels.find_slots(rt, department_id=cat.department.id, day=sms_city.tomorrow, half_day="pm") == []
        booked = await channels.book_first_free(rt, member_id=member.id, slots=slots, channel="ivr", idempotency_key="call-1")
        assert booked["channel"] == "ivr"
        again = await channels.book_first_free(rt, member_id=member.id, slots=slots, channel="ivr", idempotency_key="call-1")
        assert again["id"] == booked["id"]
        with pytest.raises(DomainError) as refused:  # one booking per member per session, as on the web
            await channels.book_first_free(rt, member_id=member.id, slots=slots, channel="ivr", idempotency_key="call-2")
        assert refused.value.code == "duplicate_session"
        summary = await channels.summary(rt, booked)
        assert summary.queue_no == 1 and summary.fee == "50.00元" and summary.place == "本部" and summary.doctor == "王建国"
        assert [s.ref for s in await channels.upcoming(rt, member_id=member.id)] == [booked["id"]]
        done = await channels.cancel(rt, member_id=member.id, ref=booked["id"].lower().replace("-", ""))
        assert done.status == "cancelled" and await channels.upcoming(rt, member_id=member.id) == []


async def test_queue_numbers_follow_the_periods_then_the_order_of_booking(sms_city: SmsCity):
    rt, cat = sms_city.rt, sms_city.cat
    with use_city(sms_city.city):
        slots = await channels.find_slots(rt, department_id=cat.department.id, day=sms_city.tomorrow,
                                          doctor_id=cat.doctor.id)
        refs = []
        for _ in range(3):
            member = await make_member(rt, sms_city.city)
            refs.append((await channels.book_first_free(rt, member_id=member.id, slots=slots, channel="sms"))["id"])
        numbers = [(await channels.summary(rt, await _view(rt, ref))).queue_no for ref in refs]
    assert numbers == [1, 2, 3]


async def _view(rt, ref: str) -> dict:
    from guahao.core.booking.views import booking_view
    from guahao.core.models import Booking

    async with rt.db.transaction() as s:
        return (await booking_view(s, await s.get(Booking, ref))).model_dump(mode="json")
