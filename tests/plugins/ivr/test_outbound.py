"""Outbound voice calls: the ivr plugin's ``voice`` sender places a call through a local Twilio
Calls API that checks Basic auth and the form, reading the message twice in Mandarin."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from guahao.core.jobs import drain_in_process
from guahao.core.plugins.interfaces import OutgoingMessage
from guahao.core.plugins.manager import configure
from guahao.plugins.channels.ivr.outbound import VoiceCallSender, e164, spoken
from tests.core.jobs.test_handlers import notifications
from tests.core.plugins.probes import make_member
from tests.fakes.live import LiveServer
from tests.fakes.twilio_calls import FakeTwilioCalls

CITY = SimpleNamespace(slug="bj", name="北京")
BODY = "【北京预约挂号】张三您好，王建国医生12月9日上午停诊，请改约。"


@pytest.fixture(scope="module")
def twilio():
    fake = FakeTwilioCalls()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


def message(**kw) -> OutgoingMessage:
    base = dict(notification_id=7, kind="broadcast", channel="voice", recipient="13800138000", body=BODY)
    return OutgoingMessage(**{**base, **kw})


def configured(twilio, **over):
    sid, token = twilio.add_account()
    settings = {"account_sid": sid, "caller_number": "+861012320", "api_base": twilio.url, **over}
    return sid, settings, {"auth_token": token}


async def test_a_call_reads_the_message_twice_in_mandarin(twilio):
    sid, settings, secrets = configured(twilio)
    result = await VoiceCallSender().send(CITY, message(), settings, secrets)
    assert result.status == "sent" and result.provider_ref.startswith("CA")
    [call] = twilio.calls_of(sid)
    assert call["sid"] == result.provider_ref and call["to"] == "+8613800138000" and call["from"] == "+861012320"
    assert [s["language"] for s in call["says"]] == ["zh-CN", "zh-CN"]
    assert call["says"][0]["text"] == "北京预约挂号通知：张三您好，王建国医生12月9日上午停诊，请改约。"
    assert call["says"][1]["text"].endswith(call["says"][0]["text"]) and "<Pause" in call["twiml"]


async def test_a_wrong_token_is_refused_and_not_retried(twilio):
    sid, settings, _ = configured(twilio)
    result = await VoiceCallSender().send(CITY, message(), settings, {"auth_token": "not-the-token-at-all"})
    assert result.status == "failed" and not result.retryable and "20003" in result.error
    assert "not-the-token-at-all" not in result.error and twilio.calls_of(sid) == []


async def test_a_bad_number_is_final_and_an_outage_is_retried(twilio):
    sid, settings, secrets = configured(twilio)
    bad = await VoiceCallSender().send(CITY, message(recipient="12345"), settings, secrets)
    assert bad.status == "failed" and not bad.retryable and "21211" in bad.error
    foreign = await VoiceCallSender().send(CITY, message(), {**settings, "caller_number": "+861099999"}, secrets)
    assert not foreign.retryable and "21212" in foreign.error
    twilio.outages.append(503)
    down = await VoiceCallSender().send(CITY, message(), settings, secrets)
    assert down.status == "failed" and down.retryable
    assert twilio.calls_of(sid) == []


async def test_without_account_or_number_no_call_is_placed(twilio):
    sid, settings, secrets = configured(twilio, caller_number="")
    result = await VoiceCallSender().send(CITY, message(), settings, secrets)
    assert result.status == "failed" and not result.retryable and "caller_number" in result.error
    assert (await VoiceCallSender().send(CITY, message(recipient=""), settings, secrets)).status == "unreachable"


def test_numbers_and_spoken_text():
    assert e164("138 0013 8000") == "+8613800138000" and e164("+14155550100") == "+14155550100"
    assert e164("008613800138000") == "+8613800138000"
    assert spoken("【上海预约挂号】通知") == "上海预约挂号通知：通知"


async def test_a_voice_notification_through_the_outbox_is_one_call(rt, city, twilio):
    """A ``notify`` message on the voice channel is one call, recorded on the message log as sent by ivr."""
    from guahao.core.outbox import emit
    from guahao.tenants.context import use_city

    sid, settings, secrets = configured(twilio)
    await configure(rt, city, "ivr", settings=settings, secrets=secrets)
    await configure(rt, city, "message_log", settings={"channels": ["sms", "email", "wechat"]})
    member = await make_member(rt, city)
    with use_city(city):
        async with rt.db.transaction() as s:
            emit(s, "notify", {"kind": "announcement", "member_id": member.id, "channel": "voice",
                               "data": {"text": "明日门诊照常。"}})
    await drain_in_process(rt, city_id=city.id)
    [note] = await notifications(rt, city, member_id=member.id)
    assert note.status == "sent" and note.sender == "ivr" and note.recipient == member.phone
    [call] = twilio.calls_of(sid)
    assert call["to"] == "+86" + member.phone and "明日门诊照常。" in call["says"][0]["text"]
