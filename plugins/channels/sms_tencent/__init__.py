"""Tencent Cloud SMS (腾讯云短信, ``SendSms`` 2021-01-11) as a notification sender.

City settings: ``sdk_app_id``, ``sign_name``, ``templates`` (``{kind: template id}`` or
``{kind: {"code": id, "params": [names in template order]}}``, see ``core.notifications.template_for``),
``endpoint`` (default ``https://sms.tencentcloudapi.com``), ``region`` (default ``ap-guangzhou``),
``timeout``, ``priority``. Secrets: ``secret_id``, ``secret_key``.

Numbers go out in E.164 (``+86…``). ``SessionContext`` carries the notification id. Calls go
through ``core.plugins.http.HttpClient``. A request error (``Response.Error``) or a per-number
status other than ``Ok`` is permanent unless it is a rate limit or an internal fault; those,
timeouts and 5xx answers are retried with back-off by core (no quick retries: ``SendSms`` is
not idempotent).
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
from .signing import CONTENT_TYPE, authorization

NAME = "sms_tencent"
ENDPOINT = "https://sms.tencentcloudapi.com"
VERSION = "2021-01-11"
RETRYABLE = ("RequestLimitExceeded", "LimitExceeded.PhoneNumberThirtySecondLimit", "InternalError", "ResourceUnavailable")


def e164(phone: str) -> str:
    """Mainland numbers get ``+86``; numbers already in E.164 are kept."""
    phone = phone.strip().replace(" ", "")
    return phone if phone.startswith("+") else f"+86{phone}"


def retryable(code: str) -> bool:
    """Rate limits and internal faults pass; everything else will fail the same way again."""
    return code.startswith(RETRYABLE)


def classify(response: httpx.Response) -> dict[str, Any]:
    """A ``SendSms`` answer: the number's ``SendStatus`` when its ``Code`` is ``Ok``, else a
    ``TransportError`` carrying the request's or the number's error code."""
    answer = json_answer(response).get("Response") or {}
    error = answer.get("Error")
    if error:
        code = str(error.get("Code", ""))
        raise TransportError(f"{code}: {error.get('Message', '')}", permanent=not retryable(code), code=code,
                             status=response.status_code)
    statuses = answer.get("SendStatusSet") or []
    if not statuses:
        raise TransportError("empty SendStatusSet", code="bad_response", status=response.status_code)
    status = statuses[0]
    code = str(status.get("Code", ""))
    if code == "Ok":
        return status
    raise TransportError(f"{code}: {status.get('Message', '')}", permanent=not retryable(code), code=code,
                         status=response.status_code)


class TencentSmsSender(NotificationSender):
    """Sends SMS through Tencent Cloud; ``transport`` replaces the network (tests)."""

    name = NAME
    verbose_name = "腾讯云短信"
    channels = frozenset({"sms"})
    priority = 10

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.transport = transport

    async def send(self, city, message: OutgoingMessage, settings: Mapping, secrets: Mapping) -> SendResult:
        if not message.recipient:
            return SendResult.unreachable("no mobile number")
        secret_id, secret_key = secrets.get("secret_id", ""), secrets.get("secret_key", "")
        if not secret_id or not secret_key or not settings.get("sdk_app_id") or not settings.get("sign_name"):
            return SendResult.refused("sms_tencent: secret, sdk_app_id and sign_name must be configured")
        template = template_for(settings, message.kind, message.params)
        if template is None:
            return SendResult.refused(f"sms_tencent: no template for {message.kind}")
        body = json.dumps(
            {
                "SmsSdkAppId": str(settings["sdk_app_id"]),
                "SignName": str(settings["sign_name"]),
                "TemplateId": template.code,
                "TemplateParamSet": list(template.values.values()),
                "PhoneNumberSet": [e164(message.recipient)],
                "SessionContext": str(message.notification_id),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        endpoint = str(settings.get("endpoint") or ENDPOINT).rstrip("/")
        host = urlsplit(endpoint).netloc
        timestamp = int(utcnow().timestamp())
        headers = {
            "Authorization": authorization(
                secret_id=secret_id, secret_key=secret_key, host=host, service="sms", body=body, timestamp=timestamp
            ),
            "Content-Type": CONTENT_TYPE,
            "Host": host,
            "X-TC-Action": "SendSms",
            "X-TC-Version": VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": str(settings.get("region") or "ap-guangzhou"),
        }
        try:
            async with HttpClient.from_settings(NAME, settings, transport=self.transport, redact=[secret_key]) as http:
                status = await http.request("POST", f"{endpoint}/", headers=headers, content=body, classify=classify)
        except TransportError as exc:
            return SendResult.from_error(exc)
        return SendResult.sent(str(status.get("SerialNo", "")))


@hookimpl
def guahao_notification_senders():
    return [TencentSmsSender()]
