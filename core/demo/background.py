"""The served demo is its own worker for the plugins' long-running tasks.

``guahao demo`` runs the embedded platform (SQLite, no Redis, so no ``guahao worker``): the web
process already drains the outbox; :class:`DemoBackground` also starts the plugins' worker tasks
(hook ``guahao_worker_tasks``: e.g. the HL7 v2 listeners and the practice HIS of the demo's
hospital on ``hl7v2``) once the app has started, and stops them before it stops. Nothing is
started for a production server or one with Redis (its worker runs them).
"""

from __future__ import annotations

import asyncio

from guahao.core.jobs.background import start_background, stop_background


class DemoBackground:
    """ASGI app: the platform's app (``core.app.create_app``), whose lifespan also runs the
    plugins' worker tasks in the embedded demo."""

    def __init__(self, app):
        self.app = app
        self.tasks: list[asyncio.Task] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        rt = self.app.state.rt

        async def receive_():
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self.tasks:
                await stop_background(self.tasks)
                self.tasks = []
            return message

        async def send_(message):
            if message["type"] == "lifespan.startup.complete" and rt.settings.outbox_in_process \
                    and not rt.settings.production:
                self.tasks = await start_background(rt)
            await send(message)

        await self.app(scope, receive_, send_)
