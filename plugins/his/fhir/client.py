"""Talking to a hospital's FHIR R4 server: reads, searches with paging, creates and updates,
with the server's ``OperationOutcome`` as the error text.

Every call goes through the platform's :class:`HttpClient`. What an answer means:

- 2xx: the resource (or Bundle) as JSON;
- 408, 409, 412, 429, 5xx, a timeout, a refused connection: :class:`FhirUnavailable` (the outbox
  tries again later; a version conflict resolves itself on the next read);
- 401 while using SMART: the access token is dropped and the call made once more with a new one;
- 401/403 otherwise, or the authorization server refusing our credentials: :class:`FhirAuthFailed`
  (retried: a person fixes the token, key or registration, then the waiting pushes go through);
- any other 4xx: :class:`FhirRefused` with the ``OperationOutcome``'s text (diagnostics, else
  details), which the adapter turns into ``HisRejected`` for pushes;
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urljoin

import httpx

from guahao.plugin_api import HttpClient, TransportError

from .auth import FhirAuthFailed, SmartAuth

FHIR_JSON = "application/fhir+json"
ACCEPT = f"{FHIR_JSON}; fhirVersion=4.0"
MAX_PAGES = 200  # a search longer than this is a loop in the server's next links
TEMPORARY = frozenset({408, 409, 412, 429})  # 409/412: a version conflict, gone on the next read


class FhirUnavailable(RuntimeError):
    """The server did not answer usefully now (down, slow, busy, 5xx); try again later."""


class FhirRefused(RuntimeError):
    """The server refused the request for good (a 4xx with its OperationOutcome's text)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotConfigured(FhirUnavailable):
    """The hospital has no FHIR base URL (or credentials) set yet."""


def outcome_text(body: Any) -> str:
    """The readable text of an ``OperationOutcome`` body: each issue's diagnostics, else its
    details' text, else its code, joined by ``; ``."""
    if not isinstance(body, Mapping) or body.get("resourceType") != "OperationOutcome":
        return ""
    parts = []
    for issue in body.get("issue") or []:
        details = issue.get("details") or {}
        text = issue.get("diagnostics") or details.get("text") or next(
            (c.get("display") or c.get("code") for c in details.get("coding") or [] if c.get("display") or c.get("code")),
            "") or issue.get("code") or ""
        if text:
            parts.append(str(text))
    return "; ".join(parts)


def _classify(response: httpx.Response) -> Any:
    code = response.status_code
    if 200 <= code < 300:
        if not response.content:
            return {}
        return response.json()
    try:
        body = response.json()
    except ValueError:
        body = None
    text = outcome_text(body) or " ".join(response.text.split())[:200] or response.reason_phrase
    temporary = code in TEMPORARY or code >= 500
    raise TransportError(f"HTTP {code}: {text}", permanent=not temporary, code=f"http_{code}", status=code)


class FhirClient:
    """Calls to one FHIR server: ``async with FhirClient(settings, secrets) as fhir: …``.

    Parameters:
        settings: the hospital's effective settings (``base_url``, ``auth``, ``timeout``…).
        secrets: its secrets (``token``, ``private_key``).
        transport: an ``httpx`` transport (tests); default the network.
    """

    def __init__(self, settings: Mapping, secrets: Mapping, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        base = str(settings.get("base_url") or "").strip()
        if not base:
            raise NotConfigured("no FHIR base URL set for this hospital: "
                                "guahao his set CITY HOSPITAL fhir --set base_url=https://…")
        self.base = base.rstrip("/") + "/"
        self.settings, self.secrets = settings, secrets
        self.mode = str(settings.get("auth") or "none")
        token = str(secrets.get("token") or "")
        if self.mode == "bearer" and not token:
            raise NotConfigured("auth=bearer but no token stored: guahao his set … fhir --secret token=…")
        self.http = HttpClient.from_settings("fhir", settings, transport=transport,
                                             headers={"Accept": ACCEPT}, redact=[token])
        self.smart = SmartAuth(self.http, self.base, settings, secrets) if self.mode == "smart" else None
        self._token = token

    async def __aenter__(self) -> "FhirClient":
        await self.http.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def url(self, path: str) -> str:
        """``path`` (``Slot``, ``Appointment/12``) under the base; absolute URLs stay as they are."""
        return path if path.startswith(("http://", "https://")) else urljoin(self.base, path.lstrip("/"))

    async def _headers(self, fresh: bool = False) -> dict[str, str]:
        if self.smart is not None:
            token = await self.smart.access_token(fresh=fresh)
            if token not in self.http.redact:
                self.http.redact.append(token)
            return {"Authorization": f"Bearer {token}"}
        if self.mode == "bearer":
            return {"Authorization": f"Bearer {self._token}"}
        return {}

    async def call(self, method: str, path: str, *, params: Mapping | None = None, body: Any = None,
                   form: Mapping | None = None, headers: Mapping[str, str] | None = None, auth: bool = True) -> Any:
        """One request; the JSON answer, or :class:`FhirUnavailable` / :class:`FhirRefused`.
        ``body``: a resource sent as FHIR JSON; ``form``: search parameters sent as a form
        (``POST [type]/_search``). ``auth=False`` sends no credentials (``metadata`` is open to all)."""
        for attempt in (1, 2):
            try:
                extra = {**(await self._headers(fresh=attempt == 2) if auth else {}), **(headers or {})}
                if body is not None:
                    extra["Content-Type"] = FHIR_JSON
                return await self.http.request(
                    method, self.url(path), params=params, headers=extra, classify=_classify, data=form,
                    content=None if body is None else _json(body))
            except TransportError as exc:
                if exc.status == 401 and self.smart is not None and attempt == 1:
                    continue  # the token expired early or was revoked: one more try with a new one
                if exc.status in (401, 403):
                    raise FhirAuthFailed(f"FHIR {method} {_short(path)}: the server refused our credentials "
                                         f"({exc.message})") from None
                if exc.permanent:
                    raise FhirRefused(f"FHIR {method} {_short(path)} refused: {exc.message}", exc.status) from None
                raise FhirUnavailable(f"FHIR {method} {_short(path)}: {exc.message}") from None
        raise AssertionError("unreachable")

    async def read(self, reference: str) -> dict:
        return await self.call("GET", reference)

    async def search(self, resource: str, params: Mapping[str, Any], *, post: bool = False) -> AsyncIterator[dict]:
        """Every entry resource of a search (``search.mode`` match and include alike), page
        after page through the Bundle's ``next`` links. ``post``: the parameters go in the body
        of ``POST [type]/_search``, out of URLs and access logs (a patient's ID number)."""
        wanted = {"_count": self.page_size, **params}
        page: Any = await (self.call("POST", f"{resource}/_search", form=wanted) if post
                           else self.call("GET", resource, params=wanted))
        for _ in range(MAX_PAGES):
            if not isinstance(page, Mapping) or page.get("resourceType") != "Bundle":
                raise FhirUnavailable(f"FHIR search of {resource} did not answer with a Bundle")
            for entry in page.get("entry") or []:
                if isinstance(entry.get("resource"), Mapping):
                    yield entry["resource"]
            following = next((link.get("url") for link in page.get("link") or [] if link.get("relation") == "next"), None)
            if not following:
                return
            page = await self.call("GET", following)
        raise FhirUnavailable(f"FHIR search of {resource} has more than {MAX_PAGES} pages")

    async def all(self, resource: str, params: Mapping[str, Any], *, post: bool = False) -> list[dict]:
        return [r async for r in self.search(resource, params, post=post)]

    @property
    def page_size(self) -> int:
        return int(self.settings.get("page_size") or 100)


def _json(body: Any) -> bytes:
    import json

    if hasattr(body, "model_dump_json"):  # a fhir.resources model
        return body.model_dump_json(exclude_none=True).encode()
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _short(path: str) -> str:
    """The resource path of a call without host or query (error text carries no identifiers)."""
    if path.startswith(("http://", "https://")):
        path = httpx.URL(path).path
    return path.split("?", 1)[0]


__all__ = ["FhirAuthFailed", "FhirClient", "FhirRefused", "FhirUnavailable", "NotConfigured", "outcome_text"]
