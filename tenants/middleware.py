"""Pure ASGI middleware that puts the request's city into the context variable.

Pure ASGI on purpose: ``BaseHTTPMiddleware`` runs the app in another task, so context
variables set there do not reach the endpoint (starlette #1525).
"""

from __future__ import annotations

import json

from .context import reset_city, set_city
from .resolver import CityResolver

# Path prefixes whose next segment is a city slug.
CITY_PREFIXES = ("/api/v1/", "/c/")
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
                return await _not_found(send, slug)
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


async def _not_found(send, slug: str) -> None:
    body = json.dumps(
        {"error": {"code": "city_not_found", "message": f"no city platform named {slug[:40]!r}"}},
        ensure_ascii=False,
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
