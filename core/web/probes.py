"""``/metrics`` (Prometheus, trusted scrapers only) and ``/readyz`` (ready to serve traffic).

``/metrics`` answers the address list ``GUAHAO_METRICS_ALLOW`` (comma-separated addresses or
networks; default the loopback addresses and ``GUAHAO_TRUSTED_PROXIES``, never ``*``) and any
request carrying ``Authorization: Bearer <GUAHAO_METRICS_TOKEN>`` when that token is set;
everyone else gets 403 ``metrics_forbidden``. The client address is the one the app believes
(behind a trusted proxy, the forwarded one), so a public request relayed by nginx is refused.

:class:`ProbeEndpoints` answers these two and ``/healthz`` before the city lookup.

``/readyz`` is 200 when the database answers, Redis answers (when configured) and the schema
is at the head of every migration branch, on the platform database and on every database cell
of the directory (``cells``: each cell's ``ok``, ``down`` or ``behind``); otherwise 503 naming
what failed. ``/healthz``
(``core.web.routes``) stays the liveness check.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from functools import cached_property

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from guahao.core import metrics
from guahao.core.errors import Forbidden

log = logging.getLogger("guahao.web")

LOOPBACK = ("127.0.0.1", "::1")
CHECK_TIMEOUT = 3.0
NO_STORE = {"Cache-Control": "no-store"}


def _networks(entries) -> list:
    nets = []
    for entry in entries:
        entry = entry.strip()
        if not entry or entry == "*":
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            log.warning("GUAHAO_METRICS_ALLOW: %r is not an address or network, ignored", entry)
    return nets


class MetricsAccess:
    """Who may read ``/metrics``: addresses in ``allow`` or holders of ``token``."""

    def __init__(self, allow: list, token: str = ""):
        self.allow = allow
        self.token = token

    @classmethod
    def from_settings(cls, settings) -> MetricsAccess:
        """``metrics_allow`` (default: loopback and the trusted proxies) and ``metrics_token``."""
        listed = settings.metrics_allow
        entries = list(listed) if listed is not None else [*LOOPBACK, *settings.trusted_proxies]
        return cls(_networks(entries), settings.metrics_token)

    def permits(self, request: Request) -> bool:
        if self.token:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode()):
                return True
        host = request.client.host if request.client else ""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in self.allow)


class Probes:
    """The ``/metrics`` and ``/readyz`` endpoints of one runtime."""

    def __init__(self, rt):
        self.rt = rt
        self.access = MetricsAccess.from_settings(rt.settings)
        self.outbox = metrics.OutboxGauges()

    async def metrics(self, request: Request) -> Response:
        if not self.access.permits(request):
            refusal = Forbidden("metrics_forbidden", "无权读取监控指标：仅限受信任的地址或持有监控令牌的请求")
            return JSONResponse(refusal.to_dict(), status_code=refusal.status, headers=NO_STORE)
        extra = None
        try:
            extra = await asyncio.wait_for(self.outbox.refresh(self.rt.db), CHECK_TIMEOUT)
        except Exception as exc:  # the other metrics still answer; the gap shows in the graphs
            log.warning("outbox metrics unavailable: %r", exc)
        return Response(metrics.exposition(extra, shared_dir=self.rt.settings.metrics_dir), media_type=metrics.CONTENT_TYPE,
                        headers=NO_STORE)

    async def readyz(self, request: Request) -> Response:
        checks = {"database": await _check(self._database()), "redis": await self._redis(),
                  "migrations": await _check(self._migrations(), failed="behind")}
        if checks["database"] != "ok" and checks["migrations"] == "behind":
            checks["migrations"] = "unknown"
        failed = [name for name, state in checks.items() if state not in ("ok", "disabled")]
        cells = await self._cells() if checks["database"] == "ok" else {}
        failed += [f"cell:{name}" for name, state in cells.items() if state != "ok"]
        body = {"status": "down" if failed else "ok", **checks, "cells": cells, "failed": failed}
        return JSONResponse(body, status_code=503 if failed else 200, headers=NO_STORE)

    async def _database(self, cell: str = "") -> bool:
        async with self.rt.db.cell_engine(cell).connect() as conn:
            return (await conn.execute(text("SELECT 1"))).scalar() == 1

    async def _cells(self) -> dict[str, str]:
        """Each database cell of the directory: ``ok``, ``down`` (no answer) or ``behind``
        (its schema is not at the migration heads)."""
        if self.rt.db.dialect != "postgresql":
            return {}
        from guahao.tenants import cells

        try:
            names = await asyncio.wait_for(cells.load_all(self.rt.db), CHECK_TIMEOUT)
        except Exception as exc:  # the directory itself: the platform database check covers it
            log.warning("cell directory unreadable: %r", exc)
            return {}
        out = {}
        for name in names:
            state = await _check(self._database(name))
            out[name] = await _check(self._migrations(name), failed="behind") if state == "ok" else state
        return out

    async def _redis(self) -> str:
        if not self.rt.settings.redis_url:
            return "disabled"
        if self.rt.redis is None:
            return "down"
        return await _check(self.rt.redis.ping())

    @cached_property
    def heads(self) -> frozenset[str]:
        """The head revision of every migration branch (core's and the working plugins')."""
        from alembic.script import ScriptDirectory

        from guahao.core.migrate import alembic_config

        return frozenset(ScriptDirectory.from_config(alembic_config(self.rt.settings)).get_heads())

    async def _migrations(self, cell: str = "") -> bool:
        heads = await asyncio.to_thread(lambda: self.heads)
        async with self.rt.db.cell_engine(cell).connect() as conn:
            current = {row[0] for row in await conn.execute(text("SELECT version_num FROM alembic_version"))}
        return current == heads


async def _check(awaitable, failed: str = "down") -> str:
    try:
        ok = await asyncio.wait_for(awaitable, CHECK_TIMEOUT)
    except Exception as exc:  # any failure means not ready; the reason goes to the log
        log.warning("readiness check failed: %r", exc)
        return failed
    return "ok" if ok else failed


class ProbeEndpoints:
    """Pure ASGI middleware answering :data:`PATHS` with the app's own routes before the
    middleware inside it (the city lookup by host name reads the database): a probe answers
    even while the database is down or its schema missing. Place it after the proxy-headers
    middleware, so ``/metrics`` sees the client address the app believes."""

    PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"] in self.PATHS and "app" in scope:
            for route in scope["app"].routes:
                if getattr(route, "path", None) == scope["path"]:
                    match, child = route.matches(scope)
                    if match is not Match.NONE:
                        scope.update(child)
                        return await route.handle(scope, receive, send)
        return await self.app(scope, receive, send)


def probe_routes(rt) -> list:
    """``/metrics`` and ``/readyz``; mounted by ``core.app.create_app``."""
    probes = Probes(rt)
    return [Route("/metrics", probes.metrics, name="metrics"), Route("/readyz", probes.readyz, name="readyz")]
