"""The account's server URL: WeChat's URL verification, plain and safe-mode messages signed and
encrypted as WeChat does, forged and replayed pushes refused with nothing changed, and a retried
push acted on once."""

from __future__ import annotations

import asyncio
import time

from .conftest import OaCity


async def test_url_verification_echoes_echostr_for_a_good_signature(oa_city: OaCity):
    response = await oa_city.pusher().verify("echo-5f3a9c")
    assert response.status_code == 200 and response.text == "echo-5f3a9c"


async def test_url_verification_with_a_wrong_token_or_tampered_query_is_refused(oa_city: OaCity):
    forged = await oa_city.pusher(token="wrongtoken123").verify("echo-1")
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_signature"
    assert "echo-1" not in forged.text
    pusher = oa_city.pusher()
    q = pusher.query()
    q["nonce"] = q["nonce"] + "1"  # signed for another nonce
    tampered = await oa_city.client.get(oa_city.callback, params={**q, "echostr": "echo-2"})
    assert tampered.status_code == 401 and tampered.json()["error"]["code"] == "invalid_signature"
    missing = await oa_city.client.get(oa_city.callback, params={"echostr": "echo-3"})
    assert missing.status_code == 401


async def test_a_plain_text_message_gets_a_passive_text_reply(oa_city: OaCity):
    pusher, openid = oa_city.pusher(), oa_city.follower()
    response = await pusher.text(openid, "我要预约")
    assert response.status_code == 200
    reply = pusher.read_reply(response)
    assert reply["ToUserName"] == openid and reply["FromUserName"] == pusher.account
    assert reply["MsgType"] == "text" and reply["CreateTime"].isdigit()
    assert f"/c/{oa_city.city.slug}/" in reply["Content"] and "预约挂号" in reply["Content"]
    assert "<![CDATA[" in response.text


async def test_a_safe_mode_message_is_decrypted_and_answered_encrypted(oa_city: OaCity):
    pusher, openid = oa_city.pusher(safe=True), oa_city.follower()
    response = await pusher.text(openid, "帮助")
    assert response.status_code == 200 and "<Encrypt>" in response.text and "就医指南" not in response.text
    reply = pusher.read_reply(response)
    assert reply["ToUserName"] == openid and "就医指南" in reply["Content"]


async def test_safe_mode_with_a_wrong_key_or_msg_signature_is_refused_with_nothing_kept(oa_city: OaCity):
    openid = oa_city.follower()
    other_key = oa_city.pusher(safe=True, aes_key="A" * 43)
    bad = await other_key.text(openid, "帮助")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_payload"
    pusher = oa_city.pusher(safe=True)
    push = pusher.build(pusher.xml(openid, "text", Content="帮助", MsgId=42))
    forged = await oa_city.client.post(push.url.replace("msg_signature=", "msg_signature=0"), content=push.body)
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_signature"
    assert await oa_city.pushes() == []


async def test_a_forged_plain_message_is_refused_with_nothing_kept(oa_city: OaCity):
    openid = oa_city.follower()
    response = await oa_city.pusher(token="someoneelse1").text(openid, "我的预约")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_signature"
    pusher = oa_city.pusher()
    push = pusher.build(pusher.xml(openid, "text", Content="预约", MsgId=7))
    tampered = await oa_city.client.post(push.url, content=push.body.replace("预约".encode(), "取消".encode()))
    # the plain-mode signature covers the query only: the body is believed, as WeChat designed it
    assert tampered.status_code == 200
    assert [p.dedup_key for p in await oa_city.pushes()] == ["msg:7"]


async def test_a_replayed_push_outside_the_time_window_is_refused(oa_city: OaCity):
    pusher, openid = oa_city.pusher(), oa_city.follower()
    stale = pusher.build(pusher.xml(openid, "text", Content="预约", MsgId=99), timestamp=str(int(time.time()) - 301))
    response = await pusher.send(stale)
    assert response.status_code == 401 and response.json()["error"]["code"] == "stale_timestamp"
    assert await oa_city.pushes() == []


async def test_a_retried_message_is_acted_on_once_and_gets_the_first_answer(oa_city: OaCity):
    pusher, openid = oa_city.pusher(safe=True), oa_city.follower()
    xml = pusher.xml(openid, "text", Content="取消", MsgId=1234567890123)
    first = await pusher.send(pusher.build(xml))
    again = await pusher.send(pusher.build(xml))  # WeChat's retry: same message, new nonce and timestamp
    assert pusher.read_reply(first)["Content"] == pusher.read_reply(again)["Content"]
    [push] = await oa_city.pushes()
    assert push.dedup_key == "msg:1234567890123" and push.outcome == "cancel_help" and "取消预约" in push.reply


async def test_a_retried_event_is_kept_once(oa_city: OaCity):
    pusher, openid = oa_city.pusher(), oa_city.follower()
    at = int(time.time())
    one = await pusher.event(openid, "subscribe", create_time=at)
    two = await pusher.event(openid, "subscribe", create_time=at)
    assert pusher.read_reply(one)["Content"] == pusher.read_reply(two)["Content"]
    assert len(await oa_city.pushes()) == 1


async def test_unreadable_bodies_are_refused_not_crashed(oa_city: OaCity):
    pusher = oa_city.pusher()
    for body in (b"", b"not xml", b"<xml><Content>hi</Content></xml>", b"<xml>" + b"a" * 70000 + b"</xml>"):
        push = pusher.build("")
        response = await oa_city.client.post(push.url, content=body)
        assert response.status_code in (400, 413), (body[:20], response.status_code, response.text)
    safe = oa_city.pusher(safe=True)
    push = safe.build("<xml/>")
    response = await oa_city.client.post(push.url, content=b"<xml><Encrypt>bm90IGFlcw==</Encrypt></xml>")
    assert response.status_code in (400, 401)


async def test_a_retry_arriving_at_the_same_moment_is_kept_once(oa_city: OaCity):
    pusher, openid = oa_city.pusher(safe=True), oa_city.follower()
    xml = pusher.xml(openid, "text", Content="我的预约", MsgId=987654321)
    answers = await asyncio.gather(*(pusher.send(pusher.build(xml)) for _ in range(4)))
    assert all(a.status_code == 200 for a in answers)
    assert [p.dedup_key for p in await oa_city.pushes()] == ["msg:987654321"]
    assert any("尚未绑定" in pusher.read_reply(a).get("Content", "") for a in answers)
