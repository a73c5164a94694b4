"""Booking, listing and cancelling by SMS end to end: the fake gateway pushes a member's
message to the webhook, the outbox acts on it, and the reply lands in the city's message log."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from guahao.core.models import Hospital, Member
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member as make_other_member
from tests.core.booking.helpers import reserve
from tests.core.plugins.probes import make_member


def md(day) -> str:
    return f"{day.month}月{day.day}日"


async def test_book_list_and_cancel_by_sms(sms_city):
    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway("generic")
    response = await gateway.send(member.phone, f"预约*张三*{md(sms_city.tomorrow)}*市一院*呼吸内科*王建国*上午")
    assert response.status_code == 200 and gateway.accepted(response)
    await sms_city.drain()
    [booking] = await sms_city.bookings(member.id)
    assert booking.channel == "sms" and booking.status == "confirmed" and booking.doctor_id == sms_city.cat.doctor.id
    [reply] = await sms_city.replies(member.phone)
    day = sms_city.tomorrow
    for fact in ("预约成功", "第一人民医院", "本部", "呼吸内科", "王建国", f"{day.month}月{day.day}日", "上午08:00-08:30",
                 "第1号", "50.00元", booking.id, f"取消请回复：取消 {booking.id}"):
        assert fact in reply, (fact, reply)

    await gateway.send(member.phone, "查询")
    await sms_city.drain()
    listed = (await sms_city.replies(member.phone))[-1]
    assert listed.startswith("您的预约：1.") and booking.id in listed and "王建国" in listed

    typed = booking.id.replace("-", " ").lower()  # as people type it back
    await gateway.send(member.phone, f"取消 {typed}")
    await sms_city.drain()
    [cancelled] = await sms_city.bookings(member.id)
    assert cancelled.status == "cancelled"
    answer = (await sms_city.replies(member.phone))[-1]
    assert answer.startswith(f"已取消预约{booking.id}") and "王建国" in answer
    outcomes = [m.outcome for m in await sms_city.messages()]
    assert outcomes == ["booked", "listed", "cancelled"]


async def test_any_doctor_and_half_day_left_open_take_the_first_free_period(sms_city):
    member = await make_member(sms_city.rt, sms_city.city)
    await sms_city.gateway("generic").send(member.phone, "预约 张三 明天 H1 03.01")  # hospital and department by code
    await sms_city.drain()
    [booking] = await sms_city.bookings(member.id)
    assert booking.session_date == sms_city.tomorrow and booking.channel == "sms"
    assert "预约成功" in (await sms_city.replies(member.phone))[0]


async def test_an_unknown_phone_is_told_how_to_register(sms_city):
    gateway = sms_city.gateway("generic")
    await gateway.send("13912345678", "预约*张三*明天*市一院*呼吸内科")
    await sms_city.drain()
    [reply] = await sms_city.replies("13912345678")
    assert "尚未在" in reply and "实名注册" in reply and "身份证" in reply
    [message] = await sms_city.messages()
    assert message.outcome == "unknown_phone" and message.member_id is None and message.booking_id == ""


async def test_the_name_must_be_the_members_own(sms_city):
    member = await make_member(sms_city.rt, sms_city.city, name="张三")
    await sms_city.gateway("generic").send(member.phone, "预约*李四*明天*市一院*呼吸内科")
    await sms_city.drain()
    assert await sms_city.bookings(member.id) == []
    assert "姓名“李四”与本手机号注册的实名不符" in (await sms_city.replies(member.phone))[0]


async def test_an_ambiguous_hospital_is_answered_with_numbered_choices_and_a_number_picks_one(sms_city):
    with use_city(sms_city.city):
        async with sms_city.rt.db.transaction() as s:
            s.add(Hospital(code="H2", name="第一中医院", short_name="一中医"))
    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway("generic")
    await gateway.send(member.phone, "预约*张三*明天*第一*呼吸*王主任")
    await sms_city.drain()
    first = (await sms_city.replies(member.phone))[0]
    assert "“第一”对应多个医院，请回复序号：1.第一人民医院 2.第一中医院" == first
    assert await sms_city.bookings(member.id) == []
    await gateway.send(member.phone, "1")
    await sms_city.drain()
    [booking] = await sms_city.bookings(member.id)
    assert booking.doctor_id == sms_city.cat.doctor.id  # 王主任 is 王建国, the department 呼吸 is 呼吸内科
    assert "预约成功" in (await sms_city.replies(member.phone))[-1]
    await gateway.send(member.phone, "2")  # nothing is pending any more
    await sms_city.drain()
    assert "没有待选择的项目" in (await sms_city.replies(member.phone))[-1]


async def test_unknown_names_say_which_field_is_wrong(sms_city):
    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway("generic")
    for text, expected in (("预约*张三*明天*人民公园*呼吸内科", "未找到医院“人民公园”"),
                           ("预约*张三*明天*市一院*牙科", "未找到科室“牙科”"),
                           ("预约*张三*明天*市一院*呼吸内科*赵医生", "未找到医生“赵”")):
        await gateway.send(member.phone, text)
        await sms_city.drain()
        assert expected in (await sms_city.replies(member.phone))[-1]
    assert await sms_city.bookings(member.id) == []


async def test_the_exact_reason_a_booking_failed(sms_city):
    rt, city, cat = sms_city.rt, sms_city.city, sms_city.cat
    member = await make_member(rt, city)
    gateway = sms_city.gateway("generic")
    # No session that afternoon.
    await gateway.send(member.phone, "预约*张三*明天*市一院*呼吸内科*下午")
    await sms_city.drain()
    assert "没有可预约的出诊" in (await sms_city.replies(member.phone))[-1]
    # Sold out: every unit of 王建国's session tomorrow is taken by others.
    session = next(s for s in cat.sessions if s.doctor_id == cat.doctor.id and s.date == sms_city.tomorrow)
    for period in cat.periods[session.id]:
        for _ in range(2):
            await reserve(rt, city, await make_other_member(rt, city), period.id)
    await gateway.send(member.phone, "预约*张三*明天*市一院*呼吸内科*王建国")
    await sms_city.drain()
    assert (await sms_city.replies(member.phone))[-1] == "预约未成功：该时段号源已约满，请选择其他时段或加入候补。"
    # The member's limit of active bookings (2 in the test city).
    for doctor in ("王建国", "李秀英"):
        day = sms_city.tomorrow + timedelta(days=1)
        await gateway.send(member.phone, f"预约*张三*{md(day)}*市一院*呼吸内科*{doctor}")
    await sms_city.drain()
    await gateway.send(member.phone, f"预约*张三*{md(sms_city.tomorrow + timedelta(days=2))}*市一院*呼吸内科")
    await sms_city.drain()
    assert "最多可同时持有 2 个" in (await sms_city.replies(member.phone))[-1]
    assert len(await sms_city.bookings(member.id)) == 2
    # A credit suspension.
    with use_city(city):
        async with rt.db.transaction() as s:
            await s.execute(update(Member).where(Member.id == member.id).values(suspended_until=utcnow() + timedelta(days=30)))
    await gateway.send(member.phone, f"预约*张三*{md(sms_city.tomorrow + timedelta(days=2))}*市一院*呼吸内科")
    await sms_city.drain()
    assert "预约资格暂停至" in (await sms_city.replies(member.phone))[-1]
    outcomes = [m.outcome for m in await sms_city.messages()]
    assert outcomes == ["no_session", "slot_full", "booked", "booked", "too_many_active", "credit_suspended"]


async def test_cancelling_someone_elses_booking_is_not_found(sms_city):
    rt, city = sms_city.rt, sms_city.city
    other = await make_other_member(rt, city)
    theirs = await reserve(rt, city, other, sms_city.cat.periods[sms_city.cat.sessions[0].id][0].id)
    member = await make_member(rt, city)
    await sms_city.gateway("generic").send(member.phone, f"取消 {theirs.id}")
    await sms_city.drain()
    assert (await sms_city.replies(member.phone))[-1].startswith("取消未成功：未找到该预约")
    assert (await sms_city.bookings(other))[0].status == "confirmed"


async def test_help_and_malformed_messages_are_answered(sms_city):
    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway("generic")
    await gateway.send(member.phone, "帮助")
    await gateway.send(member.phone, "预约*张三*13月40日*市一院*呼吸内科")
    await sms_city.drain()
    help_text, invalid = await sms_city.replies(member.phone)
    assert "预约*姓名*日期*医院*科室" in help_text and "取消 预约号" in help_text
    assert "日期“13月40日”无法识别" in invalid and "正确格式如：预约*张三*12月9日*市一院*呼吸内科*上午" in invalid


async def test_td_stops_non_essential_messages_and_subscribing_resumes_them(sms_city):
    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway("tencent")
    await gateway.send(member.phone, "TD")
    await sms_city.drain()
    assert (await member_row(sms_city, member.id)).notifications_opt_out is True
    assert (await sms_city.replies(member.phone))[-1].startswith("已退订平台的通知、问卷等非必要短信")
    await gateway.send(member.phone, "订阅")
    await sms_city.drain()
    assert (await member_row(sms_city, member.id)).notifications_opt_out is False
    assert (await sms_city.replies(member.phone))[-1].startswith("已恢复接收")
    await gateway.send("13912345670", "退订")  # a number nobody registered gets no answer at all
    await sms_city.drain()
    assert await sms_city.replies("13912345670") == []
    assert [m.outcome for m in await sms_city.messages()] == ["opted_out", "opted_in", "unknown_phone"]


async def member_row(sms_city, member_id: int) -> Member:
    with use_city(sms_city.city):
        async with sms_city.rt.db.transaction() as s:
            return await s.get(Member, member_id)


async def test_doctors_of_one_surname_are_offered_by_number(sms_city):
    from guahao.core.models import Doctor

    cat = sms_city.cat
    with use_city(sms_city.city):
        async with sms_city.rt.db.transaction() as s:
            s.add(Doctor(hospital_id=cat.hospital.id, department_id=cat.department.id, name="王芳", title="attending"))
    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway("generic")
    await gateway.send(member.phone, "预约*张三*明天*市一院*呼吸内科*王医生")
    await sms_city.drain()
    assert (await sms_city.replies(member.phone))[-1] == "“王”对应多个医生，请回复序号：1.王建国主任医师 2.王芳主治医师"
    await gateway.send(member.phone, "2")
    await sms_city.drain()
    answer = (await sms_city.replies(member.phone))[-1]
    assert "王芳" in answer and "没有可预约的出诊" in answer
    await gateway.send(member.phone, "预约*张三*明天*市一院*呼吸内科*王医生")
    await gateway.send(member.phone, "1")
    await sms_city.drain()
    [booking] = await sms_city.bookings(member.id)
    assert booking.doctor_id == cat.doctor.id


async def test_a_booking_made_by_sms_is_confirmed_by_its_reply_alone(sms_city):
    from sqlalchemy import select

    from guahao.core.models import Notification

    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway("generic")
    await gateway.send(member.phone, f"预约*张三*{md(sms_city.tomorrow)}*市一院*呼吸内科*王建国*上午")
    await sms_city.drain()
    [booking] = await sms_city.bookings(member.id)
    assert len(await sms_city.replies(member.phone)) == 1
    with use_city(sms_city.city):
        async with sms_city.rt.db.transaction() as s:
            notes = (await s.scalars(select(Notification).where(Notification.member_id == member.id))).all()
    confirmed = [n for n in notes if n.kind == "booking_confirmed"]
    # The confirmation is planned (other channels would carry it) but not texted a second time.
    assert len(confirmed) == 1 and confirmed[0].status != "sent", [(n.kind, n.status, n.error) for n in notes]
