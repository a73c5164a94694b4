"""A caller on a telephony platform that speaks TwiML (as Twilio does), for tests and the demo.

It posts the call's form fields to the voice URL, reads the TwiML answer and walks it as the
platform would: each ``<Say>`` is heard (kept in :attr:`Caller.heard`), a ``<Gather>``'s
``action`` receives the keys pressed as ``Digits`` (cut at ``finishOnKey`` and ``numDigits``),
a wait with no key follows the verbs after the gather (the ``<Redirect>``), ``<Dial>`` is
noted as the hand-off, ``<Hangup>`` ends the call. Every request is signed exactly as the
platform signs: ``X-Twilio-Signature`` = base64(HMAC-SHA1(auth token, URL + each POST field's
name and value, sorted by name)). The status callback reports the call's duration at the end.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin


def twilio_signature(token: str, url: str, params: dict[str, str]) -> str:
    """The platform's signature of a POST to ``url`` with ``params``."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


@dataclass
class Heard:
    """One TwiML answer as the caller met it."""

    status: int
    says: list[str] = field(default_factory=list)
    gather: dict | None = None  # action, numDigits, finishOnKey, timeout
    redirect: str | None = None
    dial: str | None = None
    dial_headers: str | None = None
    hangup: bool = False
    body: str = ""

    @property
    def text(self) -> str:
        return "".join(self.says)


def parse(body: str, status: int) -> Heard:
    heard = Heard(status=status, body=body)
    if status != 200:
        return heard
    root = ET.fromstring(body)
    assert root.tag == "Response", body
    for verb in root:
        if verb.tag == "Say":
            heard.says.append(verb.text or "")
        elif verb.tag == "Gather":
            heard.gather = {"action": verb.get("action"), "numDigits": verb.get("numDigits"),
                            "finishOnKey": verb.get("finishOnKey", "#"), "timeout": verb.get("timeout")}
            heard.says += [s.text or "" for s in verb.findall("Say")]
        elif verb.tag == "Redirect":
            heard.redirect = verb.text
        elif verb.tag == "Dial":
            target = verb.find("Number")
            target = target if target is not None else verb.find("Sip")
            heard.dial = (target.text if target is not None else verb.text or "").strip()
        elif verb.tag == "Hangup":
            heard.hangup = True
    return heard


class Caller:
    """One call from ``caller`` to the city's voice URL (``url``: absolute, as configured on
    the platform's number), through ``client`` (an ``httpx.AsyncClient``)."""

    def __init__(self, client, url: str, token: str, *, caller: str = "+8613800000000", to: str = "+8612320",
                 call_sid: str | None = None, status_url: str | None = None):
        self.client, self.url, self.token = client, url, token
        self.call_sid = call_sid or "CA" + secrets.token_hex(16)
        self.status_url = status_url or url.rstrip("/") + "/status"
        self.base = {"CallSid": self.call_sid, "AccountSid": "AC" + "0" * 32, "From": caller, "To": to,
                     "CallStatus": "in-progress", "Direction": "inbound", "ApiVersion": "2010-04-01"}
        self.heard: list[str] = []
        self.last: Heard | None = None
        self.last_request: tuple[str, dict] | None = None
        self.ended = False

    async def post(self, url: str, params: dict, *, signature: str | None = None) -> Heard:
        url = urljoin(self.url, url)
        sig = twilio_signature(self.token, url, params) if signature is None else signature
        headers = {"X-Twilio-Signature": sig} if sig else {}
        response = await self.client.post(url, data=params, headers=headers)
        self.last_request = (url, params)
        return parse(response.text, response.status_code) if response.status_code == 200 else Heard(
            status=response.status_code, body=response.text)

    async def _walk(self, heard: Heard) -> Heard:
        """Hear the answer; a bare ``<Redirect>`` (no gather) is followed at once."""
        if heard.status == 200:
            self.heard += heard.says
            if heard.hangup:
                self.ended = True
            elif heard.gather is None and heard.redirect:
                return await self._walk(await self.post(heard.redirect, dict(self.base)))
        self.last = heard
        return heard

    async def dial(self) -> Heard:
        """The call arrives."""
        return await self._walk(await self.post(self.url, dict(self.base)))

    async def press(self, keys: str) -> Heard:
        """Press ``keys`` at the current prompt (``#`` ends input where the prompt says so)."""
        assert self.last is not None and self.last.gather is not None, "no prompt is waiting for keys"
        gather = self.last.gather
        finish = gather["finishOnKey"] or ""
        digits = keys.split(finish)[0] if finish and finish in keys else keys
        if gather["numDigits"]:
            digits = digits[: int(gather["numDigits"])]
        return await self._walk(await self.post(gather["action"], {**self.base, "Digits": digits}))

    async def wait(self) -> Heard:
        """Let the prompt time out: the platform runs the verbs after the gather."""
        assert self.last is not None and self.last.redirect, "nothing follows the prompt"
        return await self._walk(await self.post(self.last.redirect, dict(self.base)))

    async def retry(self) -> Heard:
        """Send the last request again, exactly (the platform retrying after a slow answer)."""
        assert self.last_request is not None
        url, params = self.last_request
        return await self.post(url, params)

    async def forged(self, keys: str, *, signature: str = "") -> Heard:
        """Press ``keys`` with a wrong (or, with ``""``, no) signature."""
        assert self.last is not None and self.last.gather is not None
        params = {**self.base, "Digits": keys}
        bad = signature or ""
        return await self.post(self.last.gather["action"], params, signature=bad)

    async def hang_up(self, seconds: int) -> int:
        """The platform's status callback for the completed call: its HTTP status."""
        params = {**self.base, "CallStatus": "completed", "CallDuration": str(seconds)}
        response = await self.client.post(self.status_url, data=params,
                                          headers={"X-Twilio-Signature": twilio_signature(self.token, self.status_url, params)})
        self.ended = True
        return response.status_code
