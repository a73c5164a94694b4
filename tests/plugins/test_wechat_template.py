"""The WeChat template-message sender against a local WeChat API (token + template send)."""

import uuid
from types import SimpleNamespace

from guahao.core.plugins.interfaces import OutgoingMessage
from guahao.plugins.channels.wechat_template import WeChatTemplateSender

CITY = SimpleNamespace(slug="sz", name="深圳")


def configured(fake, secret=None):
    app_id, real = fake.add_app()
    openid = f"o{uuid.uuid4().hex[:20]}"
    fake.openids.add(openid)
    fake.templates.add("TPL-confirm")
    settings = {
        "app_id": app_id,
        "endpoint": fake.url,
        "templates": {"booking_confirmed": {"template_id": "TPL-confirm", "params": {"first": "name", "keyword1": "booking_no"}}},
    }
    return app_id, openid, settings, {"app_secret": secret or real}


def message(openid: str, n: int = 1) -> OutgoingMessage:
    return OutgoingMessage(notification_id=n, kind="booking_confirmed", channel="wechat", recipient=openid, body="…",
                           params={"name": "王五", "booking_no": "B9"})


async def test_the_token_is_cached_and_sends_are_deduped_by_notification(wechat_api):
    app_id, openid, settings, secrets = configured(wechat_api)
    sender = WeChatTemplateSender()
    first = await sender.send(CITY, message(openid, 1), settings, secrets)
    again = await sender.send(CITY, message(openid, 1), settings, secrets)
    other = await sender.send(CITY, message(openid, 2), settings, secrets)
    assert first.ok and again.ok and other.ok and first.provider_ref == again.provider_ref != other.provider_ref
    assert wechat_api.token_requests[app_id] == 1
    sent = [m for m in wechat_api.sent if m["app_id"] == app_id]
    assert len(sent) == 2
    assert sent[0]["data"] == {"first": {"value": "王五"}, "keyword1": {"value": "B9"}}
    assert sent[0]["client_msg_id"] == "guahao-sz-1" and sent[0]["touser"] == openid


async def test_an_expired_token_is_dropped_and_the_next_try_fetches_a_new_one(wechat_api):
    app_id, openid, settings, secrets = configured(wechat_api)
    sender = WeChatTemplateSender()
    assert (await sender.send(CITY, message(openid, 1), settings, secrets)).ok
    wechat_api.revoke(app_id)
    expired = await sender.send(CITY, message(openid, 2), settings, secrets)
    assert expired.status == "failed" and expired.retryable and "40001" in expired.error
    assert (await sender.send(CITY, message(openid, 2), settings, secrets)).ok
    assert wechat_api.token_requests[app_id] == 2


async def test_a_wrong_secret_or_openid_fails_for_good(wechat_api):
    _, openid, settings, secrets = configured(wechat_api, secret="wrong")
    bad = await WeChatTemplateSender().send(CITY, message(openid), settings, secrets)
    assert bad.status == "failed" and not bad.retryable and "token refused" in bad.error and "40125" in bad.error
    _, _, settings, secrets = configured(wechat_api)
    unknown = await WeChatTemplateSender().send(CITY, message("o-nobody"), settings, secrets)
    assert not unknown.ok and not unknown.retryable and "40003" in unknown.error
    skipped = await WeChatTemplateSender().send(CITY, message(""), settings, secrets)
    assert skipped.status == "unreachable" and not skipped.retryable
