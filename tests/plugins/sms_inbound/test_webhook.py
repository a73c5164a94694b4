"""The uplink webhook: each gateway format authenticated as it must be, a forged or stale
request refused with nothing changed, and a message acted on once however often (and however
simultaneously) the gateway delivers it."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from guahao.core.models import Booking, Notification, OutboxMessage
from guahao.core.plugins.manager import configure
from guahao.plugins.channels.sms_inbound.models import SmsInboundMessage
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member as make_other_member
from tests.core.booking.helpers import reserve
from tests.core.plugins.probes import make_member
from tests.fakes.sms_uplink import FakeUplink, aliyun_replies, tencent_replies

from .conftest import SmsCity


async def counts(sms_city: SmsCity) -> dict[str, int]:
    """Rows of everything an uplink could change."""
    with use_city(sms_city.city):
        async with sms_city.rt.db.transaction() as s:
            return {model.__name__: await s.scalar(select(func.count()).select_from(model))
                    for model in (SmsInboundMessage, OutboxMessage, Booking, Notification)}


def booking_text() -> str:
    return "预约*张三*明天*市一院*呼吸内科*王建国*上午"


@pytest.mark.parametrize("provider", ["aliyun", "tencent", "generic"])
async def test_each_format_books_and_is_acknowledged_as_its_gateway_expects(sms_city, provider):
    member = await make_member(sms_city.rt, sms_city.city)
    response = await sms_city.gateway(provider).send(member.phone, booking_text())
    assert response.status_code == 200 and FakeUplink.accepted(response)
    expected = {"aliyun": {"code": 0, "msg": "接收成功"}, "tencent": {"result": 0, "errmsg": "OK"},
                "generic": {"received": 1}}[provider]
    assert response.json() == expected
    await sms_city.drain()
    [booking] = await sms_city.bookings(member.id)
    assert booking.channel == "sms"
    [message] = await sms_city.messages()
    assert message.provider == provider and message.phone == member.phone and message.outcome == "booked"
    assert message.booking_id == booking.id and message.member_id == member.id


@pytest.mark.parametrize(
    ("provider", "credential", "code"),
    [("aliyun", "wrong-token-0123456789abcdef", "invalid_token"), ("aliyun", "", "invalid_token"),
     ("tencent", "wrong-token-0123456789abcdef", "invalid_token"),
     ("generic", "wrong-secret-0123456789abcdef", "invalid_signature")],
)
async def test_a_forged_request_is_refused_with_nothing_changed(sms_city, provider, credential, code):
    member = await make_member(sms_city.rt, sms_city.city)
    before = await counts(sms_city)
    response = await sms_city.gateway(provider, credential).send(member.phone, booking_text())
    assert response.status_code == 401 and response.json()["error"]["code"] == code
    assert not FakeUplink.accepted(response)
    await sms_city.drain()
    assert await counts(sms_city) == before
    assert await sms_city.bookings(member.id) == []


async def test_a_tampered_body_and_a_stale_timestamp_are_refused(sms_city):
    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway("generic")
    before = await counts(sms_city)
    signed = gateway.build(member.phone, booking_text())
    tampered = signed.body.replace("王建国".encode(), "李秀英".encode())
    response = await sms_city.client.post(signed.url, headers=signed.headers, content=tampered)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_signature"
    stale = await gateway.send(member.phone, booking_text(), timestamp=int(time.time()) - 301)
    assert stale.status_code == 401 and stale.json()["error"]["code"] == "stale_timestamp"
    unsigned = await sms_city.client.post(signed.url, content=signed.body)
    assert unsigned.status_code == 401
    assert await counts(sms_city) == before


async def test_unreadable_and_unknown_requests_are_4xx_not_500(sms_city):
    base = f"/c/{sms_city.city.slug}/plugins/sms_inbound"
    token = "?token=aliyun-token-0123456789abcdef"
    assert (await sms_city.client.post(f"{base}/aliyun{token}", content=b"not json")).status_code == 400
    assert (await sms_city.client.post(f"{base}/aliyun{token}", content=b'{"a": 1}')).status_code == 400
    assert (await sms_city.client.post(f"{base}/aliyun{token}", content=json.dumps([{"content": "x"}]))).status_code == 400
    unknown = await sms_city.client.post(f"{base}/twilio", content=b"{}")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_provider"
    assert (await sms_city.client.post(f"{base}/aliyun{token}", content=b"[" + b" " * 70000 + b"]")).status_code == 413


async def test_a_city_without_the_plugin_has_no_webhook(rt, city, client):
    gateway = FakeUplink(client, f"/c/{city.slug}/plugins/sms_inbound", "generic", "generic-secret-0123456789abcdef")
    assert (await gateway.send("13800000000", "查询")).status_code == 404


async def test_a_city_without_credentials_refuses_every_format(rt, city, client):
    await configure(rt, city, "sms_inbound")
    for provider in ("aliyun", "tencent", "generic"):
        gateway = FakeUplink(client, f"/c/{city.slug}/plugins/sms_inbound", provider, "anything-0123456789abcdef")
        response = await gateway.send("13800000000", "查询")
        assert response.status_code == 400 and response.json()["error"]["code"] == "not_configured"


@pytest.mark.parametrize("provider", ["aliyun", "tencent", "generic"])
async def test_a_retried_uplink_never_books_twice(sms_city, provider):
    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway(provider)
    first = await gateway.send(member.phone, booking_text())
    again = await gateway.redeliver()  # the gateway did not hear our answer and pushes again
    assert FakeUplink.accepted(first) and FakeUplink.accepted(again)
    await sms_city.drain()
    late = await gateway.redeliver()  # and once more, after the message was acted on
    assert FakeUplink.accepted(late)
    await sms_city.drain()
    assert len(await sms_city.bookings(member.id)) == 1
    assert len(await sms_city.messages()) == 1
    assert len(await sms_city.replies(member.phone)) == 1


@pytest.mark.parametrize("provider", ["aliyun", "generic"])
async def test_two_deliveries_of_one_message_at_the_same_moment_book_once(sms_city, provider):
    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway(provider)
    push = gateway.build(member.phone, booking_text())
    responses = await asyncio.gather(*(gateway.push(push) for _ in range(4)))
    assert all(FakeUplink.accepted(r) for r in responses)
    await sms_city.drain()
    assert len(await sms_city.bookings(member.id)) == 1
    assert len(await sms_city.messages()) == 1
    assert len(await sms_city.replies(member.phone)) == 1


async def test_the_same_words_sent_twice_are_two_messages(sms_city):
    member = await make_member(sms_city.rt, sms_city.city)
    gateway = sms_city.gateway("aliyun")
    await gateway.send(member.phone, "查询")
    await gateway.send(member.phone, "查询")  # a new sequence_id: the member asked again
    await sms_city.drain()
    assert len(await sms_city.replies(member.phone)) == 2


async def test_an_uplink_older_than_the_window_is_acknowledged_and_left_alone(sms_city):
    member = await make_member(sms_city.rt, sms_city.city)
    before = await counts(sms_city)
    old = await sms_city.gateway("aliyun").send(member.phone, booking_text(), sent_at=utcnow() - timedelta(hours=13))
    assert FakeUplink.accepted(old)
    await sms_city.drain()
    assert await counts(sms_city) == before


async def test_processing_a_message_again_books_nothing_more(sms_city):
    """The outbox may run the job twice (a worker lost after acting): the message's idempotency
    key hands back the booking it made."""
    from guahao.plugins.channels.sms_inbound import process

    member = await make_member(sms_city.rt, sms_city.city)
    await sms_city.gateway("generic").send(member.phone, booking_text())
    [message] = await sms_city.messages()
    ctx = SimpleNamespace(rt=sms_city.rt, city=sms_city.city, attempt=1,
                          plugins=await sms_city.rt.plugins.for_city(sms_city.city))
    with use_city(sms_city.city):
        await process.process(ctx, {"message": message.id})
    [booking] = await sms_city.bookings(member.id)
    # Meanwhile others take every unit left of that morning, so the periods free now differ.
    cat = sms_city.cat
    session = next(s for s in cat.sessions if s.id == booking.session_id)
    for period in cat.periods[session.id]:
        while await holding(sms_city, period.id) < 2:
            await reserve(sms_city.rt, sms_city.city, await make_other_member(sms_city.rt, sms_city.city), period.id)
    with use_city(sms_city.city):
        # as if the first run's mark was lost: the message is acted on again from the start
        async with sms_city.rt.db.transaction() as s:
            row = await s.get(SmsInboundMessage, message.id)
            row.status = "received"
        await process.process(ctx, {"message": message.id})
    assert [b.id for b in await sms_city.bookings(member.id)] == [booking.id]
    assert [m.booking_id for m in await sms_city.messages()] == [booking.id]
    assert all(r.startswith("预约成功") and booking.id in r for r in await sms_city.replies(member.phone))


async def holding(sms_city: SmsCity, period_id: int) -> int:
    from tests.core.booking.helpers import holding_count

    return await holding_count(sms_city.rt, sms_city.city, period_id)


async def test_replies_go_out_through_the_citys_alibaba_cloud_sender(sms_city, aliyun_sms):
    key_id, secret = aliyun_sms.add_key()
    aliyun_sms.templates["SMS_REPLY"] = {"content"}
    await configure(sms_city.rt, sms_city.city, "sms_aliyun",
                    settings={"sign_name": "测试市预约挂号", "endpoint": aliyun_sms.url,
                              "templates": {"channel_reply": {"code": "SMS_REPLY", "params": {"content": "text"}}}},
                    secrets={"access_key_id": key_id, "access_key_secret": secret})
    member = await make_member(sms_city.rt, sms_city.city)
    await sms_city.gateway("aliyun").send(member.phone, booking_text())
    await sms_city.drain()
    [booking] = await sms_city.bookings(member.id)
    [reply] = aliyun_replies(aliyun_sms, key_id, member.phone)
    assert reply.startswith("预约成功") and booking.id in reply
    with use_city(sms_city.city):
        async with sms_city.rt.db.transaction() as s:
            note = await s.scalar(select(Notification).where(Notification.kind == "channel_reply"))
    assert note.status == "sent" and note.sender == "sms_aliyun" and note.recipient == member.phone


async def test_replies_go_out_through_the_citys_tencent_cloud_sender(sms_city, tencent_sms):
    secret_id, secret_key = tencent_sms.add_key()
    tencent_sms.templates["900001"] = 1
    await configure(sms_city.rt, sms_city.city, "sms_tencent",
                    settings={"sdk_app_id": "1400000001", "sign_name": "测试市预约挂号", "endpoint": tencent_sms.url,
                              "templates": {"channel_reply": {"code": "900001", "params": ["text"]}}},
                    secrets={"secret_id": secret_id, "secret_key": secret_key})
    gateway = sms_city.gateway("tencent")
    await gateway.send("13912340000", "查询")  # nobody registered this number
    await sms_city.drain()
    [reply] = tencent_replies(tencent_sms, secret_id, "13912340000")
    assert "尚未在" in reply and "实名注册" in reply


async def test_an_alibaba_cloud_batch_carries_several_members_messages(sms_city):
    first, second = await make_member(sms_city.rt, sms_city.city), await make_member(sms_city.rt, sms_city.city, name="李四")
    gateway = sms_city.gateway("aliyun")
    one, two = (json.loads(gateway.build(m.phone, text).body)[0]
                for m, text in ((first, "查询"), (second, "预约*李四*明天*市一院*呼吸内科")))
    push = gateway.build(first.phone, "")
    batch = type(push)(push.url, push.headers, json.dumps([one, two], ensure_ascii=False).encode())
    assert FakeUplink.accepted(await gateway.push(batch))
    assert FakeUplink.accepted(await gateway.push(batch))  # pushed again whole
    await sms_city.drain()
    assert [m.outcome for m in await sms_city.messages()] == ["listed", "booked"]
    assert len(await sms_city.bookings(second.id)) == 1
    assert len(await sms_city.replies(first.phone)) == len(await sms_city.replies(second.phone)) == 1
