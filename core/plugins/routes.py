"""Plugins' inbound routes (webhooks, callbacks, HIS reports) at ``/c/{city}/plugins/{plugin}/…``,
and channel sites at the city root ``/c/{city}/…``.

Routes are collected once when the app is built; each plugin's mount answers only for cities
that enabled the plugin (404 elsewhere), so a disabled plugin is unreachable. The plugin's
endpoints authenticate their callers themselves (signatures, shared tokens).
"""

from __future__ import annotations

import json
import logging

from starlette.routing import BaseRoute, Match, Mount, Router

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
    for name, function in iter_hook_plugins(rt.plugins.pm, "guahao_city_pages"):
        try:
            routes = list(function() or [])
        except Exception:
            log.exception("plugin %s failed in guahao_city_pages", name)
            continue
        if routes:
            mounts.append(CityRootPages(routes, name, rt))
    return mounts
