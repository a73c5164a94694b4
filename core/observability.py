"""Errors to Sentry (when a DSN is set) with secrets and personal data scrubbed; structured logs.

Sentry gets no local variables of stack frames and no default personal data (IP addresses,
cookies, users). Every event and breadcrumb also passes through :func:`scrub` before it
leaves the process: values under sensitive keys (passwords, secrets, tokens, cookies, the
``Authorization`` header, ID numbers, phone numbers, codes) become ``[Filtered]``, and any
string anywhere (exception messages, log messages, URLs, query strings, request bodies)
has its mainland mobile numbers, 18-character resident ID numbers, bearer tokens, JWTs and
``password=…``-style pairs masked. Events carry the release (``guahao@<version>``), the
environment (``GUAHAO_ENV``) and tags for the current city, request id and outbox topic.
Log lines pass through the same :func:`scrub` (``core.logs``).
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from typing import Any

from guahao.tenants.settings import Settings

FILTERED = "[Filtered]"
MAX_DEPTH = 20

# Key words (a key is split at non-letters and camelCase) whose values are never sent.
SENSITIVE_WORDS = frozenset({
    "password", "passwd", "passphrase", "pwd", "secret", "secrets", "token", "tokens", "auth",
    "authorization", "cookie", "cookies", "csrf", "credential", "credentials", "signature", "otp",
    "totp", "dsn", "phone", "mobile", "tel", "apikey", "sealed",
})
# Keys that are sensitive alone but not as part of a longer name (``code`` is a TOTP or SMS
# log-in code; ``hospital_code`` is not).
SENSITIVE_KEYS = frozenset({"code", "sms_code", "login_code", "verification_code", "captcha"})
# Runs of words that name a sensitive key together (``id_number``, ``api_key``, ``set-cookie``).
SENSITIVE_PAIRS = frozenset({("id", "number"), ("id", "card"), ("api", "key"), ("private", "key"),
                             ("access", "key")})

_PAIR = re.compile(
    r"(?i)\b([\w.-]*(?:password|passwd|pwd|secret|token|api_?key|auth|cookie|csrf|id_?number|phone|mobile)[\w.-]*"
    r"|code|otp|totp)(\s*[=:]\s*|\s*%3D\s*)(\"[^\"]*\"|'[^']*'|[^&\s,;\"'}]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[\w.~+/=-]+")
_JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![\d])(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?![\d])")


def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def sensitive_key(key: Any) -> bool:
    """Whether a mapping key names a value that must never be sent."""
    if not isinstance(key, str):
        return False
    if key.strip().lower().replace("-", "_") in SENSITIVE_KEYS:
        return True
    words = _words(key)
    return bool(SENSITIVE_WORDS.intersection(words)) or any(pair in SENSITIVE_PAIRS for pair in itertools.pairwise(words))


def scrub_text(text: str) -> str:
    """``text`` with secrets in ``key=value`` pairs, bearer tokens, JWTs, ID numbers and mobile
    numbers masked."""
    text = _BEARER.sub(lambda m: f"{m.group(1)} {FILTERED}", text)
    text = _PAIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{FILTERED}", text)
    text = _JWT.sub(FILTERED, text)
    text = _ID_NUMBER.sub("[id-number]", text)
    return _PHONE.sub("[phone]", text)


class AccessLogScrubber(logging.Filter):
    """Masks what :func:`scrub_text` masks (mobile and ID numbers, tokens, ``password=…``) in
    the values of uvicorn's access lines: a query string that carries personal data (an old
    link, a typed address) keeps its path and other parameters in the log, not the numbers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(scrub_text(a) if isinstance(a, str) else a for a in record.args)
        return True


def scrub_access_log() -> None:
    """Put :class:`AccessLogScrubber` on uvicorn's access logger, once per process."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogScrubber) for f in logger.filters):
        logger.addFilter(AccessLogScrubber())


def scrub(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` (an event, a breadcrumb or any part of one) with secrets and personal data removed."""
    if depth > MAX_DEPTH:
        return FILTERED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: FILTERED if sensitive_key(k) and v not in (None, "") else scrub(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_item(item, depth + 1) for item in value]
    return value


def _scrub_item(item: Any, depth: int) -> Any:
    """A list item; a ``[name, value]`` pair (headers, cookies, form fields) by its name."""
    if isinstance(item, (list, tuple)) and len(item) == 2 and sensitive_key(item[0]):
        return [item[0], FILTERED]
    return scrub(item, depth)


def before_send(event: dict, hint: dict | None = None) -> dict:
    """Sentry ``before_send``: the event tagged with the current city and request id (when
    known), with secrets and personal data removed."""
    tags = event.setdefault("tags", {})
    if isinstance(tags, dict):
        tags.update({k: v for k, v in context_tags().items() if k not in tags})
    return scrub(event)


def context_tags() -> dict[str, str]:
    """The ``city`` slug of the current city and the ``request_id`` / outbox ``topic`` bound
    for the log lines (``core.logs``), as far as known."""
    from structlog.contextvars import get_contextvars

    from guahao.tenants.context import current_city

    tags = {k: str(v) for k, v in get_contextvars().items() if k in ("request_id", "topic", "route")}
    city = current_city()
    if city is not None:
        tags["city"] = city.slug
    return tags


def before_breadcrumb(crumb: dict, hint: dict | None = None) -> dict:
    """Sentry ``before_breadcrumb``: the breadcrumb with secrets and personal data removed."""
    return scrub(crumb)


def init_sentry(settings: Settings) -> None:
    if not settings.sentry_dsn:
        return
    import sentry_sdk

    sentry_sdk.init(dsn=settings.sentry_dsn, release=release(), environment=environment(settings), **sentry_options())


def release() -> str:
    """``guahao@<package version>``: the release Sentry files events under."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"guahao@{version('guahao')}"
    except PackageNotFoundError:
        return "guahao@unknown"


def environment(settings: Settings) -> str:
    """``GUAHAO_ENV``, else ``production`` beyond the embedded demo and ``development`` in it."""
    return settings.environment or ("production" if settings.production else "development")


def sentry_options() -> dict[str, Any]:
    """How this platform talks to Sentry: no personal data by default, no frame locals, scrubbed."""
    return {"send_default_pii": False, "include_local_variables": False, "traces_sample_rate": 0.0,
            "before_send": before_send, "before_breadcrumb": before_breadcrumb}


class ServerTiming:
    """Pure ASGI middleware adding ``Server-Timing: app;dur=<ms>`` to every HTTP response:
    the time the application spent, as browsers' developer tools and load tests read it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()

        async def timed_send(message):
            if message["type"] == "http.response.start":
                ms = (time.perf_counter() - start) * 1000
                message = {**message, "headers": [*message.get("headers", []), (b"server-timing", f"app;dur={ms:.1f}".encode())]}
            await send(message)

        await self.app(scope, receive, timed_send)
