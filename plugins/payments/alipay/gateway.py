"""Calls to Alipay's open platform gateway with the city's app keys.

``python-alipay-sdk`` (``alipay.AliPay``) builds and signs the parameters exactly as Alipay
documents (common parameters, ``biz_content`` as compact JSON, sorted ``k=v`` pairs, RSA2 over
SHA-256 with the app private key) and verifies Alipay's signatures with its public key. The
library's own HTTP call is a blocking ``urlopen``; the request itself goes through the
platform's asynchronous :class:`~guahao.plugin_api.HttpClient` (timeouts, errors as data) to
the ``gateway`` setting, so tests point it at a local fake.

An answer is ``{"<method>_response": {...}, "sign": "..."}``; the signature covers the raw text
of the ``…_response`` object and is checked before anything in it is believed.
"""

from __future__ import annotations

import json
from datetime import timezone
from functools import lru_cache
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import httpx
from alipay import AliPay

from guahao.plugin_api import HttpClient, PaymentError, TransportError, utcnow

from .keys import KeyInvalid, private_key, public_key
from .meta import GATEWAY

BEIJING = ZoneInfo("Asia/Shanghai")
SUCCESS = "10000"
# Gateway codes a later try may get past: service unavailable (20000) and the system errors
# of the trade APIs; every other failure answers the same way again.
TEMPORARY_SUB_CODES = {"ACQ.SYSTEM_ERROR", "aop.ACQ.SYSTEM_ERROR", "isp.unknow-error", "ACQ.BUYER_BALANCE_NOT_ENOUGH_RETRY"}


class AlipayNotConfigured(PaymentError):
    """The city enabled Alipay without its APPID or keys."""

    def __init__(self) -> None:
        super().__init__("payment_unavailable", "支付宝支付暂不可用，请稍后再试或联系医院。")


class AlipayRefused(TransportError):
    """Alipay answered a business failure: ``code`` is its ``sub_code`` (``ACQ.TRADE_NOT_EXIST``…)."""


@lru_cache(maxsize=64)
def _sdk(app_id: str, private_pem: str, public_pem: str) -> AliPay:
    # Parsing RSA keys is slow-ish: one signer per city's keys, reused between calls.
    return AliPay(appid=app_id, app_private_key_string=private_pem, alipay_public_key_string=public_pem, sign_type="RSA2")


def beijing_time(at=None) -> str:
    """Alipay's ``timestamp`` format in Beijing time (the library would use the host's zone)."""
    at = at or utcnow()
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


class Gateway:
    """One city's (or hospital's) Alipay app: its APPID, keys and gateway address."""

    def __init__(self, settings: Mapping, secrets: Mapping, *, transport: httpx.AsyncBaseTransport | None = None):
        app_id = str(settings.get("app_id") or "")
        private, public = str(secrets.get("app_private_key") or ""), str(secrets.get("alipay_public_key") or "")
        if not (app_id and private and public):
            raise AlipayNotConfigured()
        try:
            self.sdk = _sdk(app_id, private_key(private), public_key(public))
        except KeyInvalid:
            raise AlipayNotConfigured() from None
        self.app_id = app_id
        self.url = str(settings.get("gateway") or GATEWAY)
        self.settings = settings
        self.transport = transport
        self._redact = [private]

    # --- signing ----------------------------------------------------------------------------

    def signed_query(self, method: str, biz: dict, **extra: Any) -> str:
        """The signed, URL-quoted parameters of one call (``…&sign=…``)."""
        data = self.sdk.build_body(method, dict(biz), timestamp=beijing_time(), **extra)
        return self.sdk.sign_data(data)

    def page_url(self, method: str, biz: dict, **extra: Any) -> str:
        """The gateway address the member's browser opens (page and wap pay)."""
        return f"{self.url}?{self.signed_query(method, biz, **extra)}"

    def verify(self, fields: Mapping[str, str]) -> bool:
        """Whether a notify's or return's parameters carry Alipay's RSA2 signature: every field
        but ``sign`` and ``sign_type``, sorted, joined ``k=v`` with ``&``."""
        sign = str(fields.get("sign") or "")
        if not sign or fields.get("sign_type", "RSA2") != "RSA2":
            return False
        data = {k: str(v) for k, v in fields.items() if k not in ("sign", "sign_type")}
        try:
            return self.sdk.verify(data, sign)
        except (ValueError, TypeError, IndexError):
            return False

    # --- calls ------------------------------------------------------------------------------

    async def call(self, method: str, biz: dict, *, ok: tuple[str, ...] = (), **extra: Any) -> dict:
        """Call ``method`` and return its verified ``…_response`` object.

        A business failure raises :class:`AlipayRefused` (``code`` = Alipay's ``sub_code``;
        permanent unless Alipay says to try again), except the sub codes in ``ok``, which are
        returned for the caller to read. Network trouble raises a temporary ``TransportError``.
        """
        key = method.replace(".", "_") + "_response"
        query = self.signed_query(method, biz, **extra)

        def classify(response: httpx.Response) -> dict:
            return self._answer(response, key)

        async with HttpClient.from_settings("alipay", self.settings, default_timeout=15.0, transport=self.transport,
                                            redact=self._redact) as http:
            body = await http.request("GET", f"{self.url}?{query}", classify=classify, idempotent=True)
        code, sub_code = str(body.get("code", "")), str(body.get("sub_code", ""))
        if code == SUCCESS or sub_code in ok:
            return body
        message = f"{method}: {code} {body.get('msg', '')} {sub_code} {body.get('sub_msg', '')}".strip()
        temporary = code == "20000" or sub_code in TEMPORARY_SUB_CODES
        raise AlipayRefused(message, permanent=not temporary, code=sub_code or code)

    def _answer(self, response: httpx.Response, key: str) -> dict:
        if response.status_code != 200:
            temporary = response.status_code == 429 or response.status_code >= 500
            raise TransportError(f"HTTP {response.status_code} from the gateway", permanent=not temporary,
                                 code=f"http_{response.status_code}", status=response.status_code)
        raw = response.text
        data = json.loads(raw)
        name = key if key in data else "error_response"
        body = data.get(name)
        if not isinstance(body, dict):
            raise ValueError("no response object")
        sign = data.get("sign")
        if sign:
            plain = self.sdk._get_string_to_be_signed(raw, name)
            if not self.sdk._verify(plain, sign):
                raise TransportError("the gateway's answer does not carry Alipay's signature", permanent=True,
                                     code="invalid_signature")
            return json.loads(plain)
        if body.get("code") == SUCCESS:  # a success is always signed: an unsigned one is not Alipay's
            raise TransportError("an unsigned success answer", permanent=True, code="invalid_signature")
        return body  # unsigned failures (a wrong APPID, a bad request signature) carry no data

    async def download(self, url: str) -> bytes:
        """Fetch a file Alipay named (the statement's short-lived download address)."""
        async with HttpClient.from_settings("alipay", self.settings, default_timeout=30.0, transport=self.transport,
                                            redact=self._redact) as http:
            response = await http.request("GET", url)
        return response.content
