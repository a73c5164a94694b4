"""The platform's client of a carrier gateway (``docs/carrier-gateway.md``): signed JSON
requests, and answers whose signature is verified before a word of them is believed."""

from __future__ import annotations

import json
from typing import Any, Mapping
from urllib.parse import urlsplit

import httpx

from guahao.plugin_api import TransportError

from . import signing

NAME = "carrier"


class NotConfigured(LookupError):
    """The city has no gateway address, key id or shared secret."""


class Refused(TransportError):
    """The gateway answered with an error code (``code``, ``message``)."""


class Gateway:
    def __init__(self, settings: Mapping, secrets: Mapping, *, transport: httpx.AsyncBaseTransport | None = None):
        self.base = str(settings.get("gateway_url") or "").rstrip("/")
        self.key_id = str(settings.get("key_id") or "")
        self.secret = str(secrets.get("shared_secret") or "")
        if not (self.base and self.key_id and self.secret):
            raise NotConfigured("carrier gateway_url, key_id and shared_secret are needed")
        self.timeout = float(settings.get("timeout") or 15.0)
        self.transport = transport

    def _target(self, path: str) -> tuple[str, str]:
        url = self.base + path
        parts = urlsplit(url)
        return url, parts.path + (f"?{parts.query}" if parts.query else "")

    async def call(self, method: str, path: str, body: Mapping[str, Any] | None = None, *,
                   ok: tuple[int, ...] = (200,)) -> tuple[int, bytes, str]:
        """Send one signed request; returns ``(status, body, content type)`` of a verified answer
        whose status is in ``ok``. Raises ``Refused`` for an error answer, ``TransportError``
        for the network or an answer that does not verify."""
        url, target = self._target(path)
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8") if body is not None else b""
        head = signing.headers(self.key_id, self.secret, method, target, raw)
        if body is not None:
            head["Content-Type"] = "application/json; charset=utf-8"
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as http:
                answer = await http.request(method, url, content=raw, headers=head)
        except httpx.HTTPError as exc:
            raise TransportError(f"carrier gateway unreachable: {type(exc).__name__}") from exc
        why = signing.problem(answer.headers, key_id=self.key_id, secret=self.secret, method=method, target=target,
                              body=answer.content)
        if why:
            raise TransportError(f"carrier gateway answer not verified: {why}", code="answer_unverified")
        if answer.status_code in ok:
            return answer.status_code, answer.content, answer.headers.get("content-type", "")
        try:
            error = json.loads(answer.content)
        except ValueError:
            error = {}
        code = str(error.get("code") or f"http_{answer.status_code}") if isinstance(error, dict) else "invalid_answer"
        message = str(error.get("message") or "") if isinstance(error, dict) else ""
        raise Refused(f"carrier gateway refused: {code} {message}"[:300], code=code,
                      permanent=400 <= answer.status_code < 500 and answer.status_code != 429)

    async def json(self, method: str, path: str, body: Mapping[str, Any] | None = None, **kw) -> dict:
        _, raw, _ = await self.call(method, path, body, **kw)
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise TransportError("carrier gateway answered no JSON", code="invalid_answer") from exc
        if not isinstance(data, dict):
            raise TransportError("carrier gateway answered no JSON object", code="invalid_answer")
        return data
