"""Per-request observability: a request id, the route template, timing and the request counter.

:class:`ObserveRequests` (pure ASGI, outermost but for the security headers) takes the
client's ``X-Request-ID`` when it is sane (1-64 letters, digits, ``.``, ``_``, ``-``, ``:``)
or makes one, echoes it in the response header, binds ``request_id``, ``method`` and ``route``
for every log line the request writes, and counts the answer in
``guahao_http_requests_total`` / ``guahao_http_request_duration_seconds`` by the route
*template* (``/api/v1/{city}/bookings``), never the raw path; a path no route matches counts
as ``<unmatched>``.
"""

from __future__ import annotations

import re
import time
import uuid

from starlette.routing import Match, Mount
from structlog.contextvars import get_contextvars, unbind_contextvars

from . import metrics
from .logs import bound_contextvars

HEADER = b"x-request-id"
UNMATCHED = "<unmatched>"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_DEPTH = 8
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id(scope) -> str:
    """The client's ``X-Request-ID`` when sane, else a new random one."""
    for name, value in scope.get("headers", ()):
        if name == HEADER:
            text = value.decode("latin-1").strip()
            if _SANE_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def route_template(routes, scope) -> str:
    """The path template of the route that answers ``scope`` (Mount prefixes included)."""
    child_scope = dict(scope)
    prefix = ""
    for _ in range(MAX_DEPTH):
        found = partial = None
        for route in routes:
            match, child = route.matches(child_scope)
            if match is Match.FULL:
                found = (route, child)
                break
            if match is Match.PARTIAL and partial is None:
                partial = (route, child)
        found = found or partial
        if found is None:
            return prefix + UNMATCHED if prefix else UNMATCHED
        route, child = found
        mount = route if isinstance(route, Mount) else getattr(route, "mount", None)  # plugin city pages wrap one
        if isinstance(mount, Mount):
            if mount is not route:
                child = mount.matches(child_scope)[1]
            child_scope.update(child)
            if not mount.routes:  # an app (static files): its prefix
                return prefix + mount.path
            prefix, routes = prefix + mount.path, mount.routes
            continue
        return prefix + (getattr(route, "path", "") or f"<{type(route).__name__}>")
    return prefix


class ObserveRequests:
    """Pure ASGI middleware: request id, log context, route template, request metrics."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        rid = request_id(scope)
        app = scope.get("app")
        route = route_template(getattr(app, "routes", []), scope) if app is not None else UNMATCHED
        status = [500]

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (HEADER, rid.encode())]}
            await send(message)

        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        had_member = "member_id" in get_contextvars()
        with bound_contextvars(request_id=rid, method=method, route=route):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                metrics.record_request(method, route, status[0], time.perf_counter() - start)
                if not had_member:  # the signed-in member (``core.logs.bind_member``) is this request's only
                    unbind_contextvars("member_id")
