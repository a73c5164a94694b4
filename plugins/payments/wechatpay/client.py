"""A small client of the WeChat Pay API v3 on the platform's ``HttpClient``.

Every request is signed with the merchant's key (:mod:`.signing`); every 2xx answer must carry
a valid WeChat Pay signature (public key mode: ``Wechatpay-Serial`` is the configured
``platform_public_key_id``) or it is refused as ``bad_signature``. Errors come back as
``TransportError`` with WeChat Pay's own code (``PARAM_ERROR``, ``ORDER_NOT_EXIST`` …): 429,
5xx, ``SYSTEM_ERROR``, ``FREQUENCY_LIMITED`` and ``BANK_ERROR`` are temporary, other refusals
permanent.

``wechatpayv3`` (a dependency) was not used for the calls: its gateway is a hard-coded private
attribute, it builds its own HTTP client (no transport or timeout policy of ours), and its
errors are bare exceptions; the protocol is small enough to speak directly.
"""

from __future__ import annotations

import json
from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit

import httpx

from guahao.plugin_api import HttpClient, PaymentError, TransportError

from . import signing
from .meta import DEFAULT_API_BASE

TEMPORARY_CODES = frozenset({"SYSTEM_ERROR", "FREQUENCY_LIMITED", "BANK_ERROR", "SYSTEMERROR"})
NAME = "wechatpay"


class NotConfigured(PaymentError):
    """The city enabled WeChat Pay without its keys."""

    def __init__(self) -> None:
        super().__init__("payment_unavailable", "微信支付暂不可用，请稍后再试或联系医院。")


def _error_of(response: httpx.Response) -> TransportError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = str(body.get("code") or f"http_{response.status_code}") if isinstance(body, dict) else f"http_{response.status_code}"
    message = str(body.get("message") or "") if isinstance(body, dict) else ""
    temporary = response.status_code == 429 or response.status_code >= 500 or code in TEMPORARY_CODES
    return TransportError(f"HTTP {response.status_code} {code}: {message}"[:300], permanent=not temporary, code=code,
                          status=response.status_code)


class WeChatPayClient:
    """Signed calls for one merchant: ``async with WeChatPayClient(settings, secrets) as api``.

    Parameters:
        settings: the plugin's settings (``mchid``, ``cert_serial_no``,
            ``platform_public_key_id``, ``api_base``, ``timeout``).
        secrets: ``private_key`` and ``platform_public_key`` (PEM).
        transport: an ``httpx`` transport (tests); default the network.
    """

    def __init__(self, settings: Mapping, secrets: Mapping, *, transport: httpx.AsyncBaseTransport | None = None):
        self.mchid = str(settings.get("mchid") or "")
        self.serial_no = str(settings.get("cert_serial_no") or "")
        self.public_key_id = str(settings.get("platform_public_key_id") or "")
        self.base = str(settings.get("api_base") or DEFAULT_API_BASE).rstrip("/")
        self.private_pem = str(secrets.get("private_key") or "")
        self.public_pem = str(secrets.get("platform_public_key") or "")
        if not (self.mchid and self.serial_no and self.public_key_id and self.private_pem and self.public_pem):
            raise NotConfigured()
        try:
            signing.private_key(self.private_pem)
            signing.public_key(self.public_pem)
        except signing.BadKey as exc:
            raise NotConfigured() from exc
        self.http = HttpClient.from_settings(NAME, settings, transport=transport, redact=[self.private_pem],
                                             headers={"Accept": "application/json", "User-Agent": "guahao-wechatpay/1.0"})

    async def __aenter__(self) -> "WeChatPayClient":
        await self.http.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.http.aclose()

    def _verified(self, response: httpx.Response) -> httpx.Response:
        if not 200 <= response.status_code < 300:
            raise _error_of(response)
        why = signing.verify_response(response.headers, response.content, public_pem=self.public_pem,
                                      public_key_id=self.public_key_id)
        if why:
            raise TransportError(f"answer's WeChat Pay signature does not verify ({why})", permanent=False,
                                 code="bad_signature", status=response.status_code)
        return response

    @staticmethod
    def _unsigned(response: httpx.Response) -> httpx.Response:
        if not 200 <= response.status_code < 300:
            raise _error_of(response)
        return response

    async def call(self, method: str, path: str, *, body: Mapping | None = None, query: Mapping | None = None,
                   verify: bool = True) -> httpx.Response:
        """One signed call; ``path`` starts with ``/v3/`` (or is an absolute address the API
        gave, such as a bill's ``download_url``). Returns the verified response."""
        if path.startswith("http"):
            parts = urlsplit(path)
            url, path_and_query = path, parts.path + (f"?{parts.query}" if parts.query else "")
        else:
            path_and_query = path + (f"?{urlencode(query)}" if query else "")
            url = self.base + path_and_query
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")) if body is not None else ""
        headers = {
            "Authorization": signing.authorization(mchid=self.mchid, serial_no=self.serial_no, private_pem=self.private_pem,
                                                   method=method, path_and_query=path_and_query, body=content),
            "Wechatpay-Serial": self.public_key_id,
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        return await self.http.request(method, url, headers=headers, content=content.encode("utf-8") if content else None,
                                       classify=self._verified if verify else self._unsigned)

    async def json(self, method: str, path: str, **kwargs: Any) -> dict:
        response = await self.call(method, path, **kwargs)
        if not response.content:
            return {}
        data = response.json()
        return data if isinstance(data, dict) else {}
