"""Outbound voice calls (语音外呼): the ``voice`` channel of notifications, such as broadcasts.

The sender asks the telephony platform to call the member and read the message: the Twilio REST
API's ``POST {api_base}/2010-04-01/Accounts/{account_sid}/Calls.json`` with the form fields
``To`` (the member's number in E.164, ``+86…``), ``From`` (the city's ``caller_number``) and
``Twiml`` — a ``<Say language="zh-CN">`` of the text, said twice with a pause between, so an
elderly listener hears it again. The request is authenticated with HTTP Basic auth (account
sid and the plugin's secret ``auth_token``, the same token that signs the platform's requests
to the menu). The platform answers 201 with the call's JSON (its ``sid`` is kept as the
provider's reference); 4xx answers (a bad number, wrong credentials) are final, 429 and 5xx
answers and timeouts are tried again later by core. Placing a call is not idempotent, so the
client makes no quick retries.
"""

from __future__ import annotations

import base64
import re
from typing import Any, Mapping

import httpx
from twilio.twiml.voice_response import VoiceResponse

from guahao.plugin_api import HttpClient, NotificationSender, OutgoingMessage, SendResult, TransportError, json_answer

NAME = "ivr"
API_BASE = "https://api.twilio.com"
LANGUAGE = "zh-CN"
SIGNATURE = re.compile(r"^【([^】]{1,40})】")
MAINLAND_MOBILE = re.compile(r"^1\d{10}$")


def e164(phone: str) -> str:
    """A member's number as the platform dials it: ``13800138000`` → ``+8613800138000``."""
    phone = re.sub(r"[\s-]", "", phone or "")
    if phone.startswith("+"):
        return phone
    if phone.startswith("0086"):
        return "+" + phone[2:]
    return "+86" + phone if MAINLAND_MOBILE.match(phone) else phone


def spoken(body: str) -> str:
    """The message as it is read out: the 【signature】 of a text becomes a spoken opening."""
    return SIGNATURE.sub(lambda m: f"{m.group(1)}通知：", body.strip(), count=1)


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def twiml(body: str) -> str:
    """The call's TwiML: the message said twice, a pause between, then hang up."""
    response = VoiceResponse()
    text = spoken(body)
    response.say(text, language=LANGUAGE)
    response.pause(length=1)
    response.say("再播报一遍。" + text, language=LANGUAGE)
    response.hangup()
    return str(response)


def classify(response: httpx.Response) -> dict[str, Any]:
    """The created call (201/200 with a ``sid``), else a ``TransportError`` with the platform's
    error code (final for 4xx, temporary for 429 and 5xx)."""
    body = json_answer(response)
    if 200 <= response.status_code < 300 and isinstance(body, dict) and body.get("sid"):
        return body
    code = str(body.get("code", "")) if isinstance(body, dict) else ""
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    raise TransportError(f"HTTP {response.status_code} {code}: {message}".strip(), permanent=response.status_code < 500,
                         code=code or f"http_{response.status_code}", status=response.status_code)


class VoiceCallSender(NotificationSender):
    """Places a call that reads the message; ``transport`` replaces the network (tests)."""

    name = NAME
    verbose_name = "语音外呼"
    channels = frozenset({"voice"})
    priority = 200  # last: a call is never the way an ordinary message goes when another route reaches the member

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.transport = transport

    async def send(self, city, message: OutgoingMessage, settings: Mapping, secrets: Mapping) -> SendResult:
        if not message.recipient:
            return SendResult.unreachable("no phone number")
        sid, token = str(settings.get("account_sid") or ""), str(secrets.get("auth_token") or "")
        caller = str(settings.get("caller_number") or "")
        if not sid or not token or not caller:
            return SendResult.refused("ivr: account_sid, caller_number and auth_token must be configured for calls")
        base = str(settings.get("api_base") or API_BASE).rstrip("/")
        form = {"To": e164(message.recipient), "From": caller, "Twiml": twiml(message.body)}
        try:
            async with HttpClient.from_settings(NAME, settings, transport=self.transport, redact=[token]) as http:
                body = await http.request("POST", f"{base}/2010-04-01/Accounts/{sid}/Calls.json", data=form,
                                          headers={"Authorization": basic_auth(sid, token)}, classify=classify)
        except TransportError as exc:
            return SendResult.from_error(exc)
        return SendResult.sent(str(body["sid"]))
