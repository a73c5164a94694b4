"""Plugins' inbound routes (webhooks, callbacks, HIS reports) at ``/c/{city}/plugins/{plugin}/…``.

Routes are collected once when the app is built; each plugin's mount answers only for cities
that enabled the plugin (404 elsewhere), so a disabled plugin is unreachable. The plugin's
endpoints authenticate their callers themselves (signatures, shared tokens).
"""

from __future__ import annotations

import json
import logging

from starlette.routing import Mount, Router

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


def plugin_routes(rt) -> list[Mount]:
    """One mount per plugin that implements ``guahao_routes``."""
    mounts = []
    for name, function in iter_hook_plugins(rt.plugins.pm, "guahao_routes"):
        try:
            routes = list(function() or [])
        except Exception:  # a broken plugin loses its routes, not the platform
            log.exception("plugin %s failed in guahao_routes", name)
            continue
        if routes:
            mounts.append(Mount(f"/c/{{city}}/plugins/{name}", app=EnabledOnly(Router(routes), name, rt)))
    return mounts
