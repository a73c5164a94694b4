"""Plugins' inbound routes (webhooks, callbacks, HIS reports) at ``/c/{city}/plugins/{plugin}/…``,
channel sites at the city root ``/c/{city}/…``, and a plugin's own standard API at
``/{prefix}/{city}/…`` (``guahao_api_routes``, e.g. FHIR at ``/fhir/{city}/``).

Routes are collected once when the app is built; each plugin's mount answers only for cities
that enabled the plugin (404 elsewhere), so a disabled plugin is unreachable. The plugin's
endpoints authenticate their callers themselves (signatures, shared tokens).
"""

from __future__ import annotations

import json
import logging

from starlette.routing import BaseRoute, Match, Mount, Router

from guahao.tenants.context import reset_city, set_city

from .manager import iter_hook_plugins

log = logging.getLogger("guahao.plugins")


class EnabledOnly:
    """ASGI guard: pass through only when the request's city enabled ``plugin``.

    Parameters:
        app: the plugin's router.
        plugin: plugin name.
        rt: the runtime whose plugin host knows each city's set.
    """

    def __init__(self, app, plugin: str, rt):
        self.app = app
        self.plugin = plugin
        self.rt = rt

    async def __call__(self, scope, receive, send):
        city = (scope.get("state") or {}).get("city")
        if city is not None and self.plugin in (await self.rt.plugins.for_city(city)).names:
            return await self.app(scope, receive, send)
        body = json.dumps({"error": {"code": "not_found", "message": "no such page for this city"}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


# First path segments a plugin's own API (``guahao_api_routes``) may not take.
RESERVED_PREFIXES = frozenset({"api", "c", "console", "static", "healthz", "readyz", "metrics", "vendor"})

# Scope key naming the city-root sites a request already fell through (see CityRootPages).
SKIPPED = "guahao.skipped_city_pages"


class CityRootPages(BaseRoute):
    """A plugin's pages at ``/c/{city}/…`` (``guahao_city_pages``), for cities that enabled it.

    Matches only paths the plugin's own routes know, so the platform's other city paths stay
    reachable; for a city without the plugin the request is routed again past this route (to
    the platform's modest city page, for example).

    Parameters:
        routes: the plugin's routes, relative to the city root.
        plugin: plugin name.
        rt: the runtime whose plugin host knows each city's set.
    """

    def __init__(self, routes: list, plugin: str, rt):
        self.mount = Mount("/c/{city}", routes=routes)
        self.plugin = plugin
        self.rt = rt

    def matches(self, scope) -> tuple[Match, dict]:
        if self.plugin in scope.get(SKIPPED, ()):
            return Match.NONE, {}
        match, child = self.mount.matches(scope)
        if match is Match.NONE:
            return Match.NONE, {}
        inner = {**scope, **child}
        best = Match.NONE
        for route in self.mount.routes:
            found, _ = route.matches(inner)
            if found is Match.FULL:
                return Match.FULL, {}
            if found is Match.PARTIAL:
                best = Match.PARTIAL
        return best, {}

    async def handle(self, scope, receive, send) -> None:
        city = (scope.get("state") or {}).get("city")
        if city is not None and self.plugin in (await self.rt.plugins.for_city(city)).names:
            _, child = self.mount.matches(scope)
            scope.update(child)
            return await self.mount.handle(scope, receive, send)
        again = {**scope, SKIPPED: frozenset({*scope.get(SKIPPED, ()), self.plugin})}
        await scope["router"](again, receive, send)


class CityApi:
    """ASGI app of a plugin's own API at ``/{prefix}/{city}/…`` (``guahao_api_routes``): the
    city is the path's ``city`` parameter (these paths are not among the city middleware's
    prefixes), resolved here and held for the request as the city middleware does; an unknown
    city, or one that did not enable the plugin, answers 404.

    Parameters:
        app: the plugin's router.
        plugin: plugin name.
        rt: the runtime (its resolver looks cities up, its plugin host knows each city's set).
    """

    def __init__(self, app, plugin: str, rt):
        self.guard = EnabledOnly(app, plugin, rt)
        self.rt = rt

    async def __call__(self, scope, receive, send):
        slug = str((scope.get("path_params") or {}).get("city") or "")
        plausible = 0 < len(slug) <= 40 and all(c.isascii() and (c.isalnum() or c in "-_") for c in slug)
        city = await self.rt.resolver.by_slug(slug) if plausible else None
        scope.setdefault("state", {})["city"] = city
        token = set_city(city)
        try:
            await self.guard(scope, receive, send)
        finally:
            reset_city(token)


def plugin_routes(rt) -> list[BaseRoute]:
    """One mount per plugin that implements ``guahao_routes``, then the city-root sites."""
    mounts: list[BaseRoute] = []
    for name, function in iter_hook_plugins(rt.plugins.pm, "guahao_routes"):
        try:
            routes = list(function() or [])
        except Exception:  # a broken plugin loses its routes, not the platform
            log.exception("plugin %s failed in guahao_routes", name)
            continue
        if routes:
            mounts.append(Mount(f"/c/{{city}}/plugins/{name}", app=EnabledOnly(Router(routes), name, rt)))
    for name, function in iter_hook_plugins(rt.plugins.pm, "guahao_api_routes"):
        try:
            prefix, routes = function() or ("", [])
            routes = list(routes)
        except Exception:
            log.exception("plugin %s failed in guahao_api_routes", name)
            continue
        if routes and prefix and prefix.isascii() and prefix.replace("_", "").replace("-", "").isalnum() \
                and prefix not in RESERVED_PREFIXES:
            mounts.append(Mount(f"/{prefix}/{{city}}", app=CityApi(Router(routes), name, rt)))
        elif routes:
            log.error("plugin %s: API prefix %r refused", name, prefix)
    for name, function in iter_hook_plugins(rt.plugins.pm, "guahao_city_pages"):
        try:
            routes = list(function() or [])
        except Exception:
            log.exception("plugin %s failed in guahao_city_pages", name)
            continue
        if routes:
            mounts.append(CityRootPages(routes, name, rt))
    return mounts
