"""The application factory: routes, middleware, exception handlers and lifespan in one place."""

from __future__ import annotations

import contextlib
import logging

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount

from guahao.tenants.middleware import CityMiddleware
from guahao.tenants.settings import Settings, SettingsError

from .runtime import Runtime

log = logging.getLogger("guahao")

APPS_GROUP = "guahao.apps"


def app_routes(rt: Runtime) -> list:
    """Routes of the web applications installed beside core (entry-point group ``guahao.apps``,
    e.g. the operator console): each entry point is called with the runtime and returns routes."""
    from importlib.metadata import entry_points

    routes: list = []
    for ep in sorted(entry_points(group=APPS_GROUP), key=lambda e: e.name):
        routes += ep.load()(rt)
    return routes


def _settings_from_env() -> Settings:
    """The environment's settings; a bad value or keys unfit for production stop the process
    with one line (this is how ``uvicorn core.app:create_app --factory`` starts)."""
    try:
        settings = Settings.from_env()
        settings.require_keys()
    except SettingsError as exc:
        raise SystemExit(f"error: {exc}") from None
    return settings


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Starlette:
    """Build the ASGI app.

    Parameters:
        settings: configuration (default: from the environment). Keys unfit for production
            refuse to start (``Settings.key_problem``).
        runtime: an already built runtime (tests share one with their fixtures).
    """
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from guahao.core.api.errors import exception_handlers
    from guahao.core.api.routes import api_routes
    from guahao.core.jobs import in_process_runner
    from guahao.core.observability import ServerTiming, init_sentry, scrub_access_log
    from guahao.core.plugins.routes import plugin_routes
    from guahao.core.request_context import ObserveRequests
    from guahao.core.usage_api import ApiCallsMiddleware
    from guahao.core.web.headers import SecurityHeaders
    from guahao.core.web.limits import IMPORT_UPLOAD, BodyLimit, upload_bytes
    from guahao.core.web.probes import ProbeEndpoints, probe_routes
    from guahao.core.web.routes import web_routes

    settings = settings or _settings_from_env()
    rt = runtime or Runtime(settings)
    init_sentry(settings)
    scrub_access_log()  # no phone or ID number from a query string in the access log

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await rt.start()
        async with in_process_runner(rt):
            yield
        if runtime is None:
            await rt.stop()

    # Forwarded headers count only from the configured proxies: the client address throttles
    # count and the scheme that makes cookies Secure cannot be claimed by anyone else.
    proxies = [Middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))] \
        if settings.trusted_proxies else []
    app = Starlette(
        debug=settings.debug,
        routes=[*probe_routes(rt), Mount("/api/v1", routes=api_routes()), *plugin_routes(rt), *app_routes(rt), *web_routes(rt)],
        middleware=[Middleware(SecurityHeaders),  # outermost: every answer carries the security headers
                    Middleware(ObserveRequests),  # request id, log context, request metrics by route template
                    Middleware(BodyLimit, max_bytes=settings.max_body_bytes, larger=[(IMPORT_UPLOAD, upload_bytes())]),
                    *proxies, Middleware(ServerTiming), Middleware(ProbeEndpoints),  # probes need no city
                    Middleware(CityMiddleware, resolver=rt.resolver),
                    Middleware(ApiCallsMiddleware, rt=rt)],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    app.state.rt = rt
    return app
