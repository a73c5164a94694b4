"""Errors to Sentry (when a DSN is set) with personal data scrubbed; structured logs."""

from __future__ import annotations

import logging
import time

from tenants.settings import Settings


def init_sentry(settings: Settings) -> None:
    if not settings.sentry_dsn:
        return
    import sentry_sdk

    sentry_sdk.init(dsn=settings.sentry_dsn, send_default_pii=False, traces_sample_rate=0.0)


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")


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
