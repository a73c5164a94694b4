"""Alibaba Cloud SMS (阿里云短信, Dysmsapi ``SendSms``) as a notification sender.

City settings: ``sign_name`` (the approved 签名), ``templates`` (``{kind: template code}``, see
``core.notifications.template_for``), ``endpoint`` (default ``https://dysmsapi.aliyuncs.com``),
``timeout`` seconds, ``priority``. Secrets: ``access_key_id``, ``access_key_secret``.

Requests are signed with ACS3-HMAC-SHA256 and sent through ``core.plugins.http.HttpClient``.
``OutId`` carries the notification id, so the gateway's delivery receipts can be matched. A
gateway ``Code`` other than ``OK`` is a permanent failure (bad number, template, signature…)
unless it is throttling or a gateway fault; those, timeouts and 5xx answers are retried with
back-off by core. ``SendSms`` is not idempotent, so the client makes no quick retries.
"""

from __future__ import annotations

import json
from typing import Any, Mapping
from urllib.parse import urlsplit

import httpx

from guahao.core.hookspecs import hookimpl
from guahao.core.notifications import template_for
from guahao.core.plugins.http import HttpClient, TransportError, json_answer
from guahao.core.plugins.interfaces import NotificationSender, OutgoingMessage, SendResult
from guahao.tenants.clock import utcnow

from .meta import META  # noqa: F401  (the plugin's declaration)
from .signing import canonical_query, signed_headers

NAME = "sms_aliyun"
ENDPOINT = "https://dysmsapi.aliyuncs.com"
VERSION = "2017-05-25"
RETRYABLE = ("Throttling", "isv.BUSINESS_LIMIT_CONTROL", "isp.", "ServiceUnavailable", "InternalError")


def retryable(code: str) -> bool:
    """Throttling and gateway faults pass; everything else will fail the same way again."""
    return code.startswith(RETRYABLE)


def classify(response: httpx.Response) -> dict[str, Any]:
    """A ``SendSms`` answer: the body when its ``Code`` is ``OK``, else a ``TransportError``
    carrying the code (temporary for throttling and gateway faults)."""
    body = json_answer(response)
    code = str(body.get("Code", ""))
    if code == "OK":
        return body
    raise TransportError(f"{code}: {body.get('Message', '')}", permanent=not retryable(code), code=code,
                         status=response.status_code)


class AliyunSmsSender(NotificationSender):
    """Sends SMS through Dysmsapi; ``transport`` replaces the network (tests)."""

    name = NAME
    verbose_name = "阿里云短信"
    channels = frozenset({"sms"})
    priority = 10

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.transport = transport

    async def send(self, city, message: OutgoingMessage, settings: Mapping, secrets: Mapping) -> SendResult:
        if not message.recipient:
            return SendResult.unreachable("no mobile number")
        key_id, secret = secrets.get("access_key_id", ""), secrets.get("access_key_secret", "")
        if not key_id or not secret or not settings.get("sign_name"):
            return SendResult.refused("sms_aliyun: access key and sign_name must be configured")
        template = template_for(settings, message.kind, message.params)
        if template is None:
            return SendResult.refused(f"sms_aliyun: no template for {message.kind}")
        params = {
            "PhoneNumbers": message.recipient,
            "SignName": str(settings["sign_name"]),
            "TemplateCode": template.code,
            "TemplateParam": json.dumps(template.values, ensure_ascii=False, separators=(",", ":")),
            "OutId": str(message.notification_id),
        }
        endpoint = str(settings.get("endpoint") or ENDPOINT).rstrip("/")
        query = canonical_query(params)
        headers = signed_headers(
            host=urlsplit(endpoint).netloc, action="SendSms", version=VERSION, query=query,
            key_id=key_id, secret=secret, now=utcnow(),
        )
        try:
            async with HttpClient.from_settings(NAME, settings, transport=self.transport, redact=[secret]) as http:
                body = await http.request("POST", f"{endpoint}/?{query}", headers=headers, content=b"", classify=classify)
        except TransportError as exc:
            return SendResult.from_error(exc)
        return SendResult.sent(str(body.get("BizId", "")))


@hookimpl
def guahao_notification_senders():
    return [AliyunSmsSender()]
