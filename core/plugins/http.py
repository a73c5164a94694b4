"""Calling a provider over HTTP: one client for timeouts, quick retries and errors as data.

Notification senders, payment providers and HIS adapters all talk to a far end over HTTP.
``HttpClient`` owns the request, its timeout, a bounded number of quick retries and the mapping
of what went wrong onto ``TransportError``, whose ``permanent`` flag separates "stop" from "try
again later". An integration supplies only what an answer means: a ``classify`` function that
takes the ``httpx.Response`` and returns what the caller wants from it, or raises
``TransportError``.

Without a ``classify`` of its own a call uses :func:`expect_success`: 2xx is an answer; 429 and
5xx are temporary (``Retry-After`` kept as a hint); every other status is permanent. Connection
errors and timeouts are temporary.

Quick retries happen inside the call, for idempotent calls only (GET, HEAD, OPTIONS, PUT,
DELETE, or a call marked ``idempotent=True`` because the far end dedupes it) and none by
default: waiting minutes between tries is the outbox's job.

Error text never carries secrets: messages name the method, host and path (never the query),
and the values of sensitive headers and parameters (``Authorization``, ``secret``, ``token``…)
plus any ``redact`` values are masked wherever they appear, the far end's answer included.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar, overload
from urllib.parse import quote

import httpx

log = logging.getLogger("guahao.plugins.http")

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
MAX_RETRIES = 5
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token"})
SENSITIVE_WORDS = frozenset({"secret", "token", "key", "sign", "signature", "password", "passwd", "credential"})
MASK = "***"
EXCERPT_CHARS = 200
_PART_SPLIT = re.compile(r"[\s,;=/:]+")
_MIN_PART = 16  # parts of a sensitive header value this long are masked on their own too


class TransportError(Exception):
    """A call to a far end did not bring the answer wanted.

    ``str(error)`` is ``"<client name>: <message>"`` once ``HttpClient`` has passed it on.

    Parameters:
        message: what went wrong, for operators; must not contain secrets.
        permanent: ``True`` when trying again will fail the same way (bad credentials, a refused
            number, a malformed request); ``False`` when a later try may succeed (timeouts,
            connection errors, 5xx, throttling).
        code: short stable code: the provider's error code, or ``timeout``, ``connection``,
            ``http_<status>``, ``bad_response``.
        status: HTTP status of the answer; ``None`` when there was no answer.
        retry_after: seconds the far end asked to wait before the next try (a hint).

    Attributes:
        source: name of the ``HttpClient`` the error came through (``""`` before).
        attempts: how many requests the call made before giving up (set by ``HttpClient``).
    """

    def __init__(
        self,
        message: str,
        permanent: bool = False,
        *,
        code: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.source = ""
        self.attempts = 0

    def __str__(self) -> str:
        return f"{self.source}: {self.message}" if self.source else self.message


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the ``Retry-After`` header asks for (delay seconds or an HTTP date); ``None``
    when the header is absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return max((at - datetime.now(timezone.utc)).total_seconds(), 0.0)


def excerpt(response: httpx.Response, chars: int = EXCERPT_CHARS) -> str:
    """The start of the answer's body on one line (for error messages; masked by the client)."""
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        return ""
    return " ".join(text.split())[:chars]


def status_error(response: httpx.Response) -> TransportError | None:
    """The usual meaning of an HTTP status: ``None`` for 2xx; 429 and 5xx temporary (with the
    ``Retry-After`` hint); anything else (4xx, an unexpected redirect) permanent."""
    code = response.status_code
    if 200 <= code < 300:
        return None
    detail = excerpt(response)
    message = f"HTTP {code} {response.reason_phrase}".rstrip() + (f": {detail}" if detail else "")
    temporary = code == 429 or code >= 500
    return TransportError(
        message, permanent=not temporary, code=f"http_{code}", status=code,
        retry_after=retry_after(response) if temporary else None,
    )


def expect_success(response: httpx.Response) -> httpx.Response:
    """The default ``classify``: the response itself when 2xx, else :func:`status_error`."""
    error = status_error(response)
    if error is not None:
        raise error
    return response


def json_answer(response: httpx.Response) -> Any:
    """The JSON body of an API that reports its errors in the body (error codes in a 200 or a
    4xx answer), for the integration to read. 429 and 5xx keep their usual, temporary meaning;
    a body that is not JSON has its status's usual meaning (temporary for a 2xx)."""
    code = response.status_code
    if code == 429 or code >= 500:
        error = status_error(response)
        assert error is not None
        raise error
    try:
        return response.json()
    except ValueError:
        error = status_error(response)
        if error is not None:
            raise error from None
        raise TransportError(f"HTTP {code}, answer is not JSON", code="bad_response", status=code) from None


def _sensitive(name: str) -> bool:
    """Whether a field name ends in a secret's word: ``app_secret``, ``access_token``,
    ``paySign``, ``api_key`` — but not ``SignName`` or ``sign_type``."""
    words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)
    return bool(words) and words[-1].lower() in SENSITIVE_WORDS


def secret_values(
    headers: Mapping[str, str] | None = None, fields: Mapping[str, Any] | None = None, extra: Iterable[str] = ()
) -> list[str]:
    """Values to mask in error text: sensitive headers (whole and their long parts), values of
    fields whose names look secret (``app_secret``, ``access_token``, ``sign``…), and ``extra``."""
    found = [str(v) for v in extra if v]
    for name, value in (headers or {}).items():
        if name.lower() in SENSITIVE_HEADERS and len(str(value)) >= 4:
            found.append(str(value))
            found += [part for part in _PART_SPLIT.split(str(value)) if len(part) >= _MIN_PART]
    for name, value in (fields or {}).items():
        if _sensitive(str(name)) and isinstance(value, (str, int)) and len(str(value)) >= 4:
            found.append(str(value))
    return found


def mask(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (as is, or percent-encoded) replaced by ``***``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK)
        encoded = quote(secret, safe="")
        if encoded != secret:
            text = text.replace(encoded, MASK)
    return text


class HttpClient:
    """Calls to one far end: ``async with HttpClient("sms_aliyun", timeout=5) as http: …``.

    Parameters:
        name: the integration's name; starts every error message and log line.
        timeout: seconds a call may take to connect and for each read or write, unless the call
            gives its own.
        retries: quick extra tries of an idempotent call after a temporary error (0 to
            ``MAX_RETRIES``; default none). A retry sends the same request again, signature
            and nonce included: don't give retries to a far end that refuses a repeated nonce.
        backoff: seconds before the first quick retry, doubled for each further one.
        max_wait: longest ``Retry-After`` a quick retry waits for; a longer hint ends the call
            with the error, leaving the wait to the outbox.
        transport: the ``httpx`` transport to send through (tests pass one); default: the network.
        headers: headers sent with every call (a ``User-Agent``, a fixed API key).
        redact: values to mask in every error message besides the ones found in headers and
            parameters (a secret sent in a body, a token in a path).
    """

    def __init__(
        self,
        name: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 0,
        backoff: float = 0.2,
        max_wait: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        redact: Iterable[str] = (),
    ) -> None:
        if not 0 <= retries <= MAX_RETRIES:
            raise ValueError(f"retries must be between 0 and {MAX_RETRIES}")
        self.name = name
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.transport = transport
        self.headers = dict(headers or {})
        self.redact = [str(v) for v in redact if v]
        self._client: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, name: str, settings: Mapping[str, Any], *, default_timeout: float = DEFAULT_TIMEOUT,
                      **options: Any) -> "HttpClient":
        """A client whose timeout is the plugin setting ``timeout`` (seconds; ``default_timeout``
        when absent or not a positive number). ``options`` are the other constructor arguments."""
        try:
            timeout = float(settings.get("timeout") or default_timeout)
        except (TypeError, ValueError):
            timeout = default_timeout
        return cls(name, timeout=timeout if timeout > 0 else default_timeout, **options)

    async def __aenter__(self) -> "HttpClient":
        self._client = httpx.AsyncClient(
            transport=self.transport, timeout=self.timeout, headers=self.headers, follow_redirects=False
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (``async with`` does it)."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @overload
    async def request(
        self, method: str, url: str, *, params: Mapping[str, Any] | None = ..., headers: Mapping[str, str] | None = ...,
        json: Any = ..., data: Mapping[str, Any] | None = ..., content: bytes | str | None = ...,
        timeout: float | None = ..., idempotent: bool | None = ..., redact: Iterable[str] = ..., classify: None = ...,
    ) -> httpx.Response: ...

    @overload
    async def request(
        self, method: str, url: str, *, params: Mapping[str, Any] | None = ..., headers: Mapping[str, str] | None = ...,
        json: Any = ..., data: Mapping[str, Any] | None = ..., content: bytes | str | None = ...,
        timeout: float | None = ..., idempotent: bool | None = ..., redact: Iterable[str] = ...,
        classify: Callable[[httpx.Response], T],
    ) -> T: ...

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        content: bytes | str | None = None,
        timeout: float | None = None,
        idempotent: bool | None = None,
        redact: Iterable[str] = (),
        classify: Callable[[httpx.Response], Any] | None = None,
    ) -> Any:
        """Send one call (with quick retries when allowed) and return what ``classify`` makes of
        the answer, or raise ``TransportError``.

        Parameters:
            method: HTTP method.
            url: absolute address; may carry a query string of its own (signed queries).
            params: query parameters to add.
            headers: headers of this call (merged over the client's).
            json: a body sent as JSON.
            data: a body sent as a form (``application/x-www-form-urlencoded``).
            content: a raw body (XML, a pre-signed byte string); set its ``Content-Type``.
            timeout: seconds for this call instead of the client's.
            idempotent: whether repeating the call is harmless; default: by method. Only
                idempotent calls are retried.
            redact: further values to mask in error messages of this call.
            classify: turns the response into the result or raises ``TransportError``; other
                exceptions it raises (a missing field) become a temporary ``bad_response``.
                Default :func:`expect_success`.
        """
        if self._client is None:
            raise RuntimeError("use HttpClient inside 'async with'")
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        tries = 1 + (self.retries if idempotent else 0)
        fields = {**(params or {}), **(data or {}), **(json if isinstance(json, Mapping) else {})}
        secrets = [*self.redact, *secret_values({**self.headers, **(headers or {})}, fields, redact)]
        request = self._client.build_request(
            method, url, params=params, headers=headers, json=json, data=data, content=content,
            timeout=self.timeout if timeout is None else timeout,
        )
        secrets += secret_values(fields=dict(request.url.params))
        where = f"{method} {request.url.host}{request.url.path}"
        delay = self.backoff
        for attempt in range(1, tries + 1):
            try:
                return await self._once(request, where, classify or expect_success)
            except TransportError as exc:
                exc.source, exc.attempts = exc.source or self.name, attempt
                exc.message = mask(exc.message, secrets)
                hint = exc.retry_after or 0.0
                if exc.permanent or attempt == tries or hint > self.max_wait:
                    log.warning("%s: %s failed after %d attempt(s): %s", self.name, where, attempt, exc.message)
                    raise
                wait = max(delay, hint)
                log.info("%s: %s attempt %d failed (%s), retrying in %.2f s", self.name, where, attempt, exc.message, wait)
                await asyncio.sleep(wait)
                delay *= 2
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _once(self, request: httpx.Request, where: str, classify: Callable[[httpx.Response], Any]) -> Any:
        assert self._client is not None
        try:
            response = await self._client.send(request)
        except httpx.TimeoutException as exc:
            limit = request.extensions.get("timeout", {}).get("read") or self.timeout
            raise TransportError(f"no answer within {limit:g} s ({where})", code="timeout") from exc
        except httpx.TransportError as exc:  # refused, reset, DNS, protocol errors: nothing usable came back
            raise TransportError(f"connection failed: {type(exc).__name__} {exc} ({where})", code="connection") from exc
        try:
            return classify(response)
        except TransportError:
            raise
        except Exception as exc:  # the answer did not have the expected shape
            raise TransportError(
                f"HTTP {response.status_code}, unreadable answer ({type(exc).__name__}) ({where})",
                code="bad_response", status=response.status_code,
            ) from exc
