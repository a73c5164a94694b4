"""WeChat Official Account template messages (公众号模板消息) as a notification sender.

City settings: ``app_id``, ``templates`` (``{kind: {"template_id": …, "params": {data key:
message param}, "url": …}}``; without ``params`` the whole text goes in ``content``),
``endpoint`` (default ``https://api.weixin.qq.com``), ``timeout``, ``priority``. Secret:
``app_secret``.

Calls go through ``core.plugins.http.HttpClient``. The access token is fetched with the app
credentials and cached per app until shortly before ``expires_in`` (in Redis for every worker
when the runtime has it, see ``tokens``); a token the API calls invalid or expired is dropped
and the send retried by core.
``client_msg_id`` is the notification's own id, so WeChat drops a repeated send of the same
message. A member's openid is bound by the ``wechat_oa`` plugin (WeChat sign-in on the patient
site, then one log-in); core routes a message here when the member has one, before SMS, and
falls back to the next route when WeChat cannot carry it (no template for the kind, a follower
who left).
"""

from __future__ import annotations

from typing import Mapping

import httpx

from guahao.core.hookspecs import hookimpl
from guahao.core.notifications import shared_redis, template_for
from guahao.core.plugins.http import HttpClient, TransportError
from guahao.core.plugins.interfaces import NotificationSender, OutgoingMessage, SendResult

from .meta import META  # noqa: F401  (the plugin's declaration)
from .tokens import RETRYABLE, TOKEN_ERRORS, WeChatError, access_token, answer, forget  # noqa: F401 (RETRYABLE kept here)

NAME = "wechat_template"
ENDPOINT = "https://api.weixin.qq.com"


def client_msg_id(city, message: OutgoingMessage) -> str:
    return f"guahao-{city.slug}-{message.notification_id}"


class WeChatTemplateSender(NotificationSender):
    """Sends template messages through a WeChat official account; ``transport`` replaces the
    network (tests)."""

    name = NAME
    verbose_name = "微信公众号模板消息"
    channels = frozenset({"wechat"})
    priority = 5  # before SMS (10): a follower gets WeChat; what WeChat cannot carry falls to the next route

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.transport = transport

    async def send(self, city, message: OutgoingMessage, settings: Mapping, secrets: Mapping) -> SendResult:
        if not message.recipient:
            return SendResult.unreachable("the member has no WeChat openid")
        app_id, secret = str(settings.get("app_id", "")), str(secrets.get("app_secret", ""))
        if not app_id or not secret:
            return SendResult.refused("wechat_template: app_id and app_secret must be configured")
        params = dict(message.params) or {}
        params.setdefault("content", message.body)
        spec = (settings.get("templates") or {}).get(message.kind) or {}
        if isinstance(spec, Mapping) and "params" not in spec:
            spec = {**spec, "params": {"content": "content"}}
        template = template_for({"templates": {message.kind: spec}}, message.kind, params, code_key="template_id")
        if template is None:
            return SendResult.refused(f"wechat_template: no template for {message.kind}")
        payload = {
            "touser": message.recipient,
            "template_id": template.code,
            "client_msg_id": client_msg_id(city, message),
            "data": {key: {"value": value} for key, value in template.values.items()},
        }
        if isinstance(spec, Mapping) and spec.get("url"):
            payload["url"] = str(spec["url"])
        endpoint = str(settings.get("endpoint") or ENDPOINT).rstrip("/")
        redis = shared_redis()
        async with HttpClient.from_settings(NAME, settings, transport=self.transport, redact=[secret]) as http:
            try:
                token = await access_token(http, endpoint, app_id, secret, redis)
            except TransportError as exc:
                return SendResult.from_error(exc)
            try:
                # client_msg_id makes WeChat drop a repeat, so the send is idempotent
                body = await http.request("POST", f"{endpoint}/cgi-bin/message/template/send",
                                          params={"access_token": token}, json=payload, idempotent=True, classify=answer)
            except WeChatError as exc:
                if exc.errcode in TOKEN_ERRORS:
                    await forget(endpoint, app_id, token, redis)
                return SendResult.from_error(exc)
            except TransportError as exc:
                return SendResult.from_error(exc)
        return SendResult.sent(str(body.get("msgid", "")))


@hookimpl
def guahao_notification_senders():
    return [WeChatTemplateSender()]
