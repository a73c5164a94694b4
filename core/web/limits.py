"""A cap on request bodies, enforced in the app before anything reads them.

Starlette parses a multipart form whole before a page can check its CSRF token, so without a
cap a 30 MB post to a log-in page is read (and spooled to disk) for nothing. :class:`BodyLimit`
answers 413 at once when the declared ``Content-Length`` is over the cap, and stops a body
sent without one (chunked) as soon as the bytes read pass it. The reverse proxy's own limit
(``client_max_body_size``) stays the first line; this one holds wherever the app runs.

Most requests get ``Settings.max_body_bytes`` (1 MiB by default: every form and API call is far
smaller; the API itself refuses JSON over 64 KiB). The console's catalogue import takes up to
``Limits.files`` files of ``Limits.file_bytes`` each, so its upload path gets
:func:`upload_bytes`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from guahao.core.importing.reader import DEFAULT_LIMITS, Limits

MULTIPART_SLACK = 1024 * 1024  # boundaries, part headers and the form's other fields
# The console's catalogue upload (operator_console.city.importing: POST /console/c/{city}/import/preview).
IMPORT_UPLOAD = re.compile(r"/console/c/[^/]+/import/preview")

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>请求内容过大 · Request too large</title></head>
<body><main><h1>请求内容过大 / Request too large</h1>
<p id="error-message" data-code="payload_too_large">提交的内容超过了允许的大小（{limit}）。/
What was sent is larger than allowed ({limit}).</p></main></body></html>
"""


def upload_bytes(limits: Limits = DEFAULT_LIMITS) -> int:
    """The largest body a catalogue upload may have: every file at its limit, plus the form."""
    return limits.files * limits.file_bytes + MULTIPART_SLACK


class BodyTooLarge(Exception):
    """Raised inside the app's ``receive`` when a streamed body passes the cap."""


class BodyLimit:
    """Pure ASGI middleware refusing request bodies over a cap with 413.

    Parameters:
        app: the ASGI app to wrap.
        max_bytes: the cap of every request (``Settings.max_body_bytes``).
        larger: (path pattern, cap) pairs for paths that take more (a full match of the path).
    """

    def __init__(self, app, max_bytes: int, larger: Iterable[tuple[re.Pattern, int]] = ()):
        self.app = app
        self.max_bytes = int(max_bytes)
        self.larger = tuple(larger)

    def cap(self, path: str) -> int:
        for pattern, limit in self.larger:
            if pattern.fullmatch(path):
                return limit
        return self.max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.cap(scope.get("path", ""))
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await _refuse(scope, send, limit)
        read = 0
        started = False

        async def counted_receive():
            nonlocal read
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    raise BodyTooLarge()
            return message

        async def watched_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            if not started:
                await _refuse(scope, send, limit)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").strip()
    return None


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{max(1, limit // 1024)} KB"


async def _refuse(scope, send, limit: int) -> None:
    if scope.get("path", "").startswith("/api/"):
        body = json.dumps({"error": {"code": "payload_too_large", "message": f"请求内容过大 / the request body is "
                                     f"larger than {_size(limit)}", "details": {"limit_bytes": limit}}},
                          ensure_ascii=False).encode()
        kind = b"application/json; charset=utf-8"
    else:
        body, kind = PAGE.format(limit=_size(limit)).encode(), b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
