"""Pure ASGI middleware that puts the request's city into the context variable.

Pure ASGI on purpose: ``BaseHTTPMiddleware`` runs the app in another task, so context
variables set there do not reach the endpoint (starlette #1525).
"""

from __future__ import annotations

import json

from .context import reset_city, set_city
from .resolver import CityResolver

# Path prefixes whose next segment is a city slug.
CITY_PREFIXES = ("/api/v1/", "/c/", "/console/c/")
# Segments after a prefix that are not cities (platform-wide documents).
NOT_CITIES = {"openapi.json", "docs", ""}


def city_slug_from_path(path: str) -> str | None:
    for prefix in CITY_PREFIXES:
        if path.startswith(prefix):
            slug = path[len(prefix):].split("/", 1)[0]
            return None if slug in NOT_CITIES else slug
    return None


class CityMiddleware:
    """Resolve the city (path first, then host) and hold it for the request.

    Parameters:
        app: the ASGI app to wrap.
        resolver: looks cities up; an unknown city slug in the path answers 404.
    """

    def __init__(self, app, resolver: CityResolver):
        self.app = app
        self.resolver = resolver

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        slug = city_slug_from_path(scope.get("path", ""))
        city = None
        if slug is not None:
            city = await self.resolver.by_slug(slug) if _plausible_slug(slug) else None
            if city is None:
                return await _not_found(send, slug, html=_wants_html(scope))
        else:
            host = _header(scope, b"host")
            if host:
                city = await self.resolver.by_host(host)
        token = set_city(city)
        scope.setdefault("state", {})["city"] = city
        try:
            await self.app(scope, receive, send)
        finally:
            reset_city(token)


def _plausible_slug(slug: str) -> bool:
    return 0 < len(slug) <= 40 and all(c.isascii() and (c.isalnum() or c in "-_") for c in slug)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _wants_html(scope) -> bool:
    """A browser navigating (``Accept: text/html``) rather than an API client."""
    return "text/html" in (_header(scope, b"accept") or "") and not scope.get("path", "").startswith("/api/")


# The page a browser gets for an unknown city: readable in both languages, no framework internals.
NOT_FOUND_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>没有这个城市平台 · No such city platform</title></head>
<body><main><h1>没有这个城市平台 / No such city platform</h1>
<p id="error-message" data-code="city_not_found">请检查网址中的城市代码。/ Please check the city code in the address.</p>
<p><a href="/">首页 / Home</a></p></main></body></html>
"""


async def _not_found(send, slug: str, *, html: bool = False) -> None:
    if html:
        body, kind = NOT_FOUND_PAGE.encode(), b"text/html; charset=utf-8"
    else:
        body = json.dumps(
            {"error": {"code": "city_not_found", "message": f"no city platform named {slug[:40]!r}"}},
            ensure_ascii=False,
        ).encode()
        kind = b"application/json; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
