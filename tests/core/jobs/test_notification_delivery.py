"""Notifications through real senders: routing, retries with back-off, permanent failures
visible to staff, opt-out — against the fake SMS gateway, with the real client code running."""

import uuid

import pytest

from guahao.core.booking import service
from guahao.core.jobs import MAX_ATTEMPTS, drain_in_process, process_outbox_message
from guahao.core.notifications import KINDS, failed_notifications
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city
from tests.core.plugins.probes import emit_row, enable, make_member, outbox_rows

from .sms_city import enable_aliyun, notes


def last_period(cat):
    return cat.periods[cat.sessions[-1].id][0]


async def test_a_booking_produces_the_confirmation_sms_at_the_gateway(rt, city, catalogue, aliyun_sms):
    city, key_id = await enable_aliyun(rt, city, aliyun_sms)
    member = await make_member(rt, city, name="赵六")
    with use_city(city):
        view, status, _ = await service.book(rt, member_id=member.id, period_id=last_period(catalogue).id, channel="web")
    assert status == 201
    await drain_in_process(rt, city_id=city.id)

    [note] = await notes(rt, city, kind="booking_confirmed")
    assert (note.status, note.sender, note.recipient) == ("sent", "sms_aliyun", member.phone)
    [sms] = aliyun_sms.messages(key_id)
    assert sms["phones"] == [member.phone] and sms["template"] == "SMS_CONFIRM" and sms["out_id"] == str(note.id)
    assert sms["values"]["name"] == "赵六" and sms["values"]["no"] == view["id"]
    assert note.body in (n.body for n in await notes(rt, city))  # the log keeps the full text too


async def test_a_throttled_send_is_retried_with_back_off_then_delivered(rt, city, aliyun_sms):
    city, key_id = await enable_aliyun(rt, city, aliyun_sms)
    member = await make_member(rt, city)
    aliyun_sms.inject[key_id].append("isv.BUSINESS_LIMIT_CONTROL")
    outbox_id = await emit_row(rt, city, "notify", {"kind": "announcement", "member_id": member.id, "data": {"text": "明日停诊"}})

    assert await process_outbox_message(rt, outbox_id) == "pending"
    [row] = await outbox_rows(rt, city, id=outbox_id)
    [note] = await notes(rt, city)
    assert row.attempts == 1 and (row.due_at - row.created_at).total_seconds() >= 9
    assert note.status == "retrying" and note.error == "sms_aliyun: isv.BUSINESS_LIMIT_CONTROL: isv.BUSINESS_LIMIT_CONTROL"
    [listed] = await failed_notifications(rt, city)
    assert listed["id"] == note.id and listed["status"] == "retrying" and not listed["final"]
    assert "BUSINESS_LIMIT_CONTROL" in listed["error"]
    assert aliyun_sms.messages(key_id) == []

    with frozen(row.due_at):
        assert await process_outbox_message(rt, outbox_id) == "done"
    [note] = await notes(rt, city)
    assert note.status == "sent" and note.attempts == 2 and note.error == ""
    assert [m["values"] for m in aliyun_sms.messages(key_id)] == [{"text": "明日停诊"}]
    assert await failed_notifications(rt, city) == []


async def test_a_permanent_error_fails_at_once_and_is_listed_for_staff(rt, city, aliyun_sms):
    from sqlalchemy import update

    from guahao.core.models import Member

    city, key_id = await enable_aliyun(rt, city, aliyun_sms)
    member = await make_member(rt, city)
    with use_city(city):
        async with rt.db.transaction() as s:
            await s.execute(update(Member).where(Member.id == member.id).values(phone="99912345678"))
    outbox_id = await emit_row(rt, city, "notify", {"kind": "announcement", "member_id": member.id, "data": {"text": "x"}})

    assert await process_outbox_message(rt, outbox_id) == "done"  # nothing left to retry
    [listed] = await failed_notifications(rt, city)
    assert listed["final"] and listed["status"] == "failed" and listed["sender"] == "sms_aliyun"
    assert "isv.MOBILE_NUMBER_ILLEGAL" in listed["error"]
    assert listed["recipient"] == "999****5678" and listed["attempts"] == 1


async def test_the_last_retry_failing_is_final(rt, city, aliyun_sms):
    city, key_id = await enable_aliyun(rt, city, aliyun_sms)
    member = await make_member(rt, city)
    aliyun_sms.inject[key_id].append("isp.SYSTEM_ERROR")
    outbox_id = await emit_row(
        rt, city, "notify", {"kind": "announcement", "member_id": member.id, "data": {"text": "y"}}, attempts=MAX_ATTEMPTS - 1
    )
    assert await process_outbox_message(rt, outbox_id) == "failed"
    [listed] = await failed_notifications(rt, city)
    assert listed["final"] and listed["status"] == "failed" and "isp.SYSTEM_ERROR" in listed["error"]


async def test_opt_out_skips_surveys_but_not_essential_messages(rt, city, catalogue, aliyun_sms):
    assert all(
        KINDS[k].essential
        for k in ("booking_confirmed", "booking_cancelled", "reminder_day_before", "reminder_30min", "waitlist_offer")
    )
    assert not any(KINDS[k].essential for k in ("announcement", "broadcast", "survey", "survey_invitation"))
    city, key_id = await enable_aliyun(rt, city, aliyun_sms)
    member = await make_member(rt, city, opt_out=True)
    await emit_row(rt, city, "notify", {"kind": "survey_invitation", "member_id": member.id, "data": {"url": "https://x/s/1"}})
    with use_city(city):
        await service.book(rt, member_id=member.id, period_id=last_period(catalogue).id, channel="web")
    await drain_in_process(rt, city_id=city.id)

    by_kind = {n.kind: n for n in await notes(rt, city)}
    assert by_kind["survey_invitation"].status == "skipped"
    assert by_kind["booking_confirmed"].status == "sent"
    assert [m["template"] for m in aliyun_sms.messages(key_id)] == ["SMS_CONFIRM"]


async def test_the_real_gateway_is_preferred_over_the_log_unless_settings_say_otherwise(rt, city, aliyun_sms):
    city, key_id = await enable_aliyun(rt, city, aliyun_sms)
    member = await make_member(rt, city)
    first = await emit_row(rt, city, "notify", {"kind": "announcement", "member_id": member.id, "data": {"text": "一"}})
    await process_outbox_message(rt, first)
    city = await enable(rt, city, "message_log", settings={"priority": 1})
    second = await emit_row(rt, city, "notify", {"kind": "announcement", "member_id": member.id, "data": {"text": "二"}})
    await process_outbox_message(rt, second)
    assert [(n.body[-1], n.sender) for n in await notes(rt, city)] == [("一", "sms_aliyun"), ("二", "message_log")]
    assert len(aliyun_sms.messages(key_id)) == 1


async def test_email_goes_to_the_address_the_notification_names_and_is_skipped_without_one(rt, city, smtp_server):
    city = await enable(rt, city, "message_log", enabled=False)
    user = f"u{uuid.uuid4().hex[:8]}"
    smtp_server.users[user] = "pw"
    city = await enable(
        rt, city, "email_smtp",
        settings={"host": "127.0.0.1", "port": smtp_server.port, "from": "noreply@guahao.example"},
        secrets={"username": user, "password": "pw"},
    )
    member = await make_member(rt, city)
    to = f"{user}@example.com"
    with_address = {"kind": "announcement", "member_id": member.id, "data": {"text": "邮件"}, "recipients": {"email": to}}
    await process_outbox_message(rt, await emit_row(rt, city, "notify", with_address))
    without = {"kind": "announcement", "member_id": member.id, "data": {"text": "无地址"}}
    assert await process_outbox_message(rt, await emit_row(rt, city, "notify", without)) == "done"

    sent, skipped = await notes(rt, city)
    assert (sent.status, sent.sender, sent.recipient) == ("sent", "email_smtp", to)
    assert skipped.status == "skipped" and "no address" in skipped.error
    assert [m["To"] for m in smtp_server.messages if m["To"] == to] == [to]


@pytest.mark.parametrize("kind", ["reminder_day_before", "survey_invitation"])
async def test_the_new_kinds_have_texts(rt, city, catalogue, kind):
    from guahao.core.notifications import compose, load_facts, message_params

    member = await make_member(rt, city, name="钱七")
    with use_city(city):
        view, _, _ = await service.book(rt, member_id=member.id, period_id=last_period(catalogue).id, channel="web")
        async with rt.db.transaction() as s:
            facts = await load_facts(s, view["id"])
    text = compose(city, kind, member, facts, {"url": "https://example.com/s/1"})
    assert text.startswith(f"【{city.name}预约挂号】钱七您好") and "第一人民医院" in text
    assert message_params(city, kind, member, facts, {})["booking_no"] == view["id"]
