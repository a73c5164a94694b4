"""Booking, listing and cancelling by phone end to end: the caller simulator walks the TwiML
the voice endpoints answer, signing each request as the platform does."""

from __future__ import annotations

from sqlalchemy import select

from guahao.core.models import OutboxMessage
from guahao.tenants.context import use_city
from tests.core.plugins.probes import make_member

from .conftest import AGENT, pin_of


async def book_by_phone(phone_city, member, *, doctor: str = "2"):
    """Walk the keypad path to a read-back; returns the caller at the confirmation prompt."""
    caller = phone_city.caller("+86" + member.phone)
    greeting = await caller.dial()
    assert "请输入密码" in greeting.text and greeting.gather["numDigits"] == "6"
    assert (await caller.press(pin_of(member) + "#")).text.startswith("预约挂号请按1")
    assert "第一人民医院请按1" in (await caller.press("1")).text
    assert "呼吸内科请按1" in (await caller.press("1#")).text
    assert "任意医生请按1" in (await caller.press("1")).text
    assert "明天" in (await caller.press(doctor)).text
    assert "上午请按1" in (await caller.press("1")).text
    return caller, await caller.press("1")


async def test_the_full_keypad_path_books_a_visit(phone_city):
    member = await make_member(phone_city.rt, phone_city.city)
    caller, read_back = await book_by_phone(phone_city, member)
    for fact in ("第一人民医院", "本部", "呼吸内科", "王建国医生", "明天", "上午", "挂号费50.00元", "确认预约请按1"):
        assert fact in read_back.text, (fact, read_back.text)
    done = await caller.press("1")
    [booking] = await phone_city.bookings(member.id)
    assert booking.channel == "phone" and booking.status == "confirmed"
    assert booking.doctor_id == phone_city.cat.doctor.id
    assert done.text.startswith("预约成功") and " ".join(booking.id.split("-")[0]) in done.text
    assert "第1号" in done.text and "短信接收支付链接请按2" in done.text
    assert "支付链接已通过短信发送" in (await caller.press("2")).text
    await phone_city.drain()
    [text] = await phone_city.texts(member.phone)
    assert f"/c/{phone_city.city.slug}/bookings/{booking.id}/pay" in text.body and text.booking_id == booking.id
    [call] = await phone_city.calls()
    assert call.member_id == member.id and call.booking_id == booking.id and call.call_sid == caller.call_sid


async def test_a_repeated_step_request_never_books_twice(phone_city):
    member = await make_member(phone_city.rt, phone_city.city)
    caller, _ = await book_by_phone(phone_city, member)
    first = await caller.press("1")
    again = await caller.retry()  # the platform did not get the answer and posts the same step again
    assert again.status == 200 and again.body == first.body
    assert len(await phone_city.bookings(member.id)) == 1
    # A retry of an earlier step replays the current prompt and changes nothing either.
    assert (await caller.press("1")).text.startswith("好的，请在就诊当天到医院窗口缴费")
    assert len(await phone_city.bookings(member.id)) == 1


async def test_query_and_cancel_from_the_list_of_upcoming_bookings(phone_city):
    member = await make_member(phone_city.rt, phone_city.city)
    caller, _ = await book_by_phone(phone_city, member)
    await caller.press("1")
    await caller.press("1")  # pay at the hospital
    assert (await caller.press("1")).text.startswith("预约挂号请按1")
    [booking] = await phone_city.bookings(member.id)
    listed = await caller.press("2")
    assert listed.text.startswith("您有1个预约") and "王建国医生" in listed.text and "第1号" in listed.text
    await caller.press("1")
    offer = await caller.press("3")
    assert "王建国医生的预约请按1" in offer.text
    assert "确认取消请按1" in (await caller.press("1")).text
    cancelled = await caller.press("1")
    assert cancelled.text.startswith("已取消预约")
    [after] = await phone_city.bookings(member.id)
    assert after.id == booking.id and after.status == "cancelled"


async def test_wrong_keys_and_timeouts_re_prompt_twice_then_hand_on_to_an_agent(phone_city):
    member = await make_member(phone_city.rt, phone_city.city)
    caller = phone_city.caller(member.phone)
    await caller.dial()
    await caller.press(pin_of(member))
    assert (await caller.wait()).text.startswith("预约挂号请按1")
    assert (await caller.press("8")).text.startswith("输入有误。预约挂号请按1")
    handed = await caller.wait()
    [call] = await phone_city.calls()
    assert handed.dial == AGENT and call.status == "agent" and " ".join(call.ref) in handed.text
    assert handed.hangup and caller.ended


async def test_wrong_pins_and_an_unknown_caller(phone_city):
    member = await make_member(phone_city.rt, phone_city.city)
    caller = phone_city.caller("+8613900000000")
    assert "未能识别您的来电号码" in (await caller.dial()).text
    assert "请输入密码" in (await caller.press(member.phone + "#")).text
    assert "密码不正确" in (await caller.press("999999")).text
    assert (await caller.press(pin_of(member))).text.startswith("预约挂号请按1")


async def test_zero_hands_the_caller_to_an_agent_whose_page_shows_them(phone_city):
    member = await make_member(phone_city.rt, phone_city.city)
    caller, _ = await book_by_phone(phone_city, member)
    handed = await caller.press("0")
    assert handed.dial == AGENT and "正在为您转接人工服务" in handed.text
    [call] = await phone_city.calls()
    assert call.status == "agent" and call.member_id == member.id and len(call.ref) == 8


async def test_a_forged_or_missing_signature_is_refused_with_nothing_changed(phone_city):
    member = await make_member(phone_city.rt, phone_city.city)
    stranger = phone_city.caller(member.phone, token="not-the-city-token-0123456789")
    assert (await stranger.dial()).status == 403
    assert await phone_city.calls() == []
    caller, _ = await book_by_phone(phone_city, member)
    before = [(c.turn, c.state) for c in await phone_city.calls()]
    forged = await caller.forged("1", signature="c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ==")
    missing = await caller.forged("1")
    assert forged.status == 403 and missing.status == 403 and "invalid_signature" in forged.body
    assert [(c.turn, c.state) for c in await phone_city.calls()] == before
    assert await phone_city.bookings(member.id) == []


async def test_minutes_are_reported_once_when_the_call_completes(phone_city):
    member = await make_member(phone_city.rt, phone_city.city)
    caller = phone_city.caller(member.phone)
    await caller.dial()
    assert await caller.hang_up(125) == 204
    assert await caller.hang_up(125) == 204  # the platform retries its callback
    with use_city(phone_city.city):
        async with phone_city.rt.db.transaction() as s:
            rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "usage.reported"))).all()
    [usage] = [r for r in rows if r.payload.get("meter") == "phone.minutes"]
    assert usage.payload["quantity"] == 3 and usage.payload["source_id"] == f"call:{caller.call_sid}"
    [call] = await phone_city.calls()
    assert call.duration_seconds == 125 and call.status == "ended" and call.minutes_reported


async def test_wrong_pins_lock_the_member_across_calls(phone_city):
    member = await make_member(phone_city.rt, phone_city.city)
    first = phone_city.caller(member.phone)
    await first.dial()
    for wrong in ("111111", "222222"):
        assert "密码不正确" in (await first.press(wrong)).text
    assert (await first.press("333333")).dial == AGENT  # three in one call: to an agent
    second = phone_city.caller(member.phone)
    await second.dial()
    for wrong in ("444444", "555555"):  # the fifth failure locks the member's PIN for a while
        assert "密码不正确" in (await second.press(wrong)).text
    locked = await second.press(pin_of(member))  # even the right PIN is not checked now
    assert locked.dial == AGENT and "密码错误次数过多" in locked.text
    *_, call = await phone_city.calls()
    assert call.member_id is None and call.status == "agent"
