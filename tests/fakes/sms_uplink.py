"""A local SMS gateway's uplink side: pushes the messages a member "sends" to our webhook in
each provider's documented form, and reads back the replies it "delivers" to that phone.

- ``aliyun``: the SmsUp HTTP batch push — a JSON array of ``{phone_number, send_time (Beijing
  time, "YYYY-MM-DD HH:MM:SS"), content, sign_name, dest_code, sequence_id}`` — to the
  callback URL configured in the console, which carries the city's ``token``; success is
  HTTP 200 with a numeric ``code``.
- ``tencent``: the reply callback — ``{extend, mobile, nationcode, sign, text, time}`` — to
  the configured URL with its ``token``; success is ``{"result": 0}``.
- ``generic``: ``{id, from, text, sent_at}`` signed ``X-Guahao-Signature: sha256=<hex
  HMAC-SHA256(secret, timestamp + "." + body)>`` with ``X-Guahao-Timestamp``.

Every push is kept (``pushes``) so a test can deliver the very same bytes again, as a gateway
retrying does. Replies come from the reply-side fake (``FakeAliyunSms``/``FakeTencentSms``)
the city's sender talks to, or from the city's message log. Written from the protocols,
independent of the plugin's code."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx

BEIJING = timezone(timedelta(hours=8))
_sequence = itertools.count(int(time.time()) * 1000)


@dataclass(frozen=True)
class Push:
    """One HTTP request the gateway made: enough to make it again byte for byte."""

    url: str
    headers: dict
    body: bytes


class FakeUplink:
    """The gateway of one city: ``client`` reaches our app, ``base`` is the city's webhook
    folder (``/c/<city>/plugins/sms_inbound``), ``credential`` the URL token (``aliyun``,
    ``tencent``) or the signing secret (``generic``)."""

    def __init__(self, client: httpx.AsyncClient, base: str, provider: str, credential: str, *, sign: str = "示例市预约挂号"):
        self.client, self.base, self.provider, self.credential, self.sign = client, base.rstrip("/"), provider, credential, sign
        self.pushes: list[Push] = []

    def build(self, phone: str, text: str, *, message_id: str | None = None, sent_at: datetime | None = None,
              timestamp: int | None = None) -> Push:
        """The request the gateway makes for one message (not sent)."""
        sent = sent_at or datetime.now(timezone.utc)
        url = f"{self.base}/{self.provider}"
        headers = {"content-type": "application/json; charset=utf-8"}
        if self.provider == "aliyun":
            body = [{"phone_number": phone, "send_time": sent.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
                     "content": text, "sign_name": self.sign, "dest_code": "1234",
                     "sequence_id": int(message_id) if message_id else next(_sequence)}]
            url += f"?token={self.credential}"
        elif self.provider == "tencent":
            body = {"extend": "", "mobile": phone, "nationcode": "86", "sign": self.sign, "text": text,
                    "time": int(sent.timestamp())}
            url += f"?token={self.credential}"
        else:
            body = {"id": message_id or f"up-{next(_sequence)}", "from": phone, "text": text, "sent_at": int(sent.timestamp())}
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if self.provider == "generic":
            stamp = str(timestamp if timestamp is not None else int(time.time()))
            digest = hmac.new(self.credential.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
            headers.update({"x-guahao-timestamp": stamp, "x-guahao-signature": f"sha256={digest}"})
        return Push(url, headers, raw)

    async def push(self, push: Push) -> httpx.Response:
        self.pushes.append(push)
        return await self.client.post(push.url, headers=push.headers, content=push.body)

    async def send(self, phone: str, text: str, **kw) -> httpx.Response:
        """The member sends ``text`` from ``phone``: the gateway pushes it to us."""
        return await self.push(self.build(phone, text, **kw))

    async def redeliver(self, index: int = -1) -> httpx.Response:
        """The gateway retries an earlier push, unchanged."""
        return await self.push(self.pushes[index])

    @staticmethod
    def accepted(response: httpx.Response) -> bool:
        """Whether the gateway takes the answer as "received" (it stops pushing)."""
        if response.status_code != 200:
            return False
        body = response.json()
        return isinstance(body.get("code"), int) or body.get("result") == 0 or "received" in body


def aliyun_replies(fake, key_id: str, phone: str) -> list[str]:
    """The texts a ``FakeAliyunSms`` delivered to ``phone`` for this key (template var ``content``)."""
    return [m["values"].get("content", "") for m in fake.messages(key_id) if phone in m["phones"]]


def tencent_replies(fake, secret_id: str, phone: str) -> list[str]:
    """The texts a ``FakeTencentSms`` delivered to ``phone`` (its template's one parameter)."""
    return [m["params"][0] for m in fake.messages(secret_id) if m["phone"] == f"+86{phone}"]
