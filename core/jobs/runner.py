"""Running one outbox message: find its city, run its handler there, record the outcome.

The same function runs under arq (``run_outbox`` job) and in-process (embedded mode). Failures
are rescheduled on the row itself with capped exponential back-off, so a retry survives a
Redis restart. A message keeps retrying until it succeeds or an administrator abandons it
(``core.backoffice.deliveries``); only a topic of ``GIVES_UP`` (a notification: late is
useless) stops after ``MAX_ATTEMPTS``, as ``failed``, and a ``DeliveryRefused`` (the far end said
no for good) stops at once, as ``failed``, for a person to retry or abandon. The last error
stays on the row.
"""

from __future__ import annotations

import logging
import time
import traceback
from datetime import timedelta

from sqlalchemy import select

from guahao.core import metrics
from guahao.core.errors import DeliveryRefused
from guahao.core.logs import bound_contextvars
from guahao.core.models import City, OutboxMessage
from guahao.tenants.clock import utcnow
from guahao.tenants.context import platform_scope, use_cell, use_city
from guahao.tenants.resolver import city_context

from .context import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_MAX_SECONDS,
    GIVES_UP,
    MAX_ATTEMPTS,
    Handler,
    JobContext,
    backoff_seconds,
)
from .handlers import BUILTIN_HANDLERS

__all__ = ["MAX_ATTEMPTS", "GIVES_UP", "FINISHED",
           "BACKOFF_BASE_SECONDS", "BACKOFF_MAX_SECONDS", "Handler", "JobContext", "backoff_seconds",
           "process_outbox_message", "resolve_handler", "UnknownTopic"]

log = logging.getLogger("guahao.jobs")


FINISHED = ("done", "failed", "abandoned")
"""States no runner leaves: succeeded, given up (``GIVES_UP`` topics), abandoned by a person."""


class UnknownTopic(LookupError):
    """No core handler and no enabled plugin handles the topic (retried: a plugin may come)."""


def resolve_handler(topic: str, plugins) -> Handler:
    handler = BUILTIN_HANDLERS.get(topic) or plugins.outbox_handlers().get(topic)
    if handler is None:
        raise UnknownTopic(f"no handler for outbox topic {topic!r} in this city")
    return handler


async def process_outbox_message(rt, outbox_id: int, cell: str = "") -> str | None:
    """Run one outbox message (of ``cell``'s outbox, default the platform database's) if it
    still needs running; returns its status afterwards.

    A message already ``done``, ``failed`` or ``abandoned`` (a replayed job) is left alone, and
    so is one of a city that has since moved to another cell: its copy there runs instead.
    """
    await rt.db.ensure_cell(cell)
    with platform_scope("outbox: find the city of a message"), use_cell(cell):
        async with rt.db.transaction() as s:
            msg = await s.scalar(select(OutboxMessage).where(OutboxMessage.id == outbox_id))
            if msg is None or msg.status in FINISHED:
                return msg.status if msg else None
            city_row = await s.scalar(select(City).where(City.id == msg.city_id))
            topic, payload, failures = msg.topic, dict(msg.payload or {}), msg.attempts
    city = city_context(city_row)
    if city.cell != cell:
        return "moved"
    # Log lines of the job name its city (the current city), topic and outbox id.
    with use_city(city), bound_contextvars(topic=topic, outbox_id=outbox_id):
        start = time.perf_counter()
        try:
            plugins = await rt.plugins.for_city(city)
            handler = resolve_handler(topic, plugins)
            await handler(JobContext(rt, city, plugins, outbox_id, failures + 1), payload)
        except Exception as exc:  # recorded on the row and retried; never lost
            status = await _record_failure(rt, outbox_id, topic, exc)
            metrics.record_job(topic, "failed" if status == "failed" else "retry", time.perf_counter() - start)
            return status
        metrics.record_job(topic, "done", time.perf_counter() - start)
        async with rt.db.transaction() as s:
            row = await s.scalar(select(OutboxMessage).where(OutboxMessage.id == outbox_id))
            row.status = "done"
            row.done_at = utcnow()
    return "done"


def _wait_seconds(attempts: int, exc: Exception) -> float:
    """The back-off, or longer when the failure carries the far end's ``retry_after`` hint
    (seconds, e.g. from an HTTP 429's Retry-After); never more than the longest back-off."""
    hint = getattr(exc, "retry_after", None)
    try:
        hint = float(hint) if hint is not None else 0.0
    except (TypeError, ValueError):
        hint = 0.0
    return min(max(backoff_seconds(attempts), hint), float(BACKOFF_MAX_SECONDS))


async def _record_failure(rt, outbox_id: int, topic: str, exc: Exception) -> str:
    detail = "".join(traceback.format_exception(exc))
    async with rt.db.transaction() as s:
        row = await s.scalar(select(OutboxMessage).where(OutboxMessage.id == outbox_id))
        row.attempts += 1
        head = f"{type(exc).__name__}: {exc}"[:600]
        row.last_error = f"{head}\n{detail[-(1990 - len(head)):]}"
        if isinstance(exc, DeliveryRefused):
            row.status = "failed"
            log.error("outbox %s (%s) refused by the far end, not retried: %s", outbox_id, topic, exc)
        elif row.attempts >= MAX_ATTEMPTS and topic in GIVES_UP:
            row.status = "failed"
            log.error("outbox %s (%s) failed for good after %s attempts: %s", outbox_id, topic, row.attempts, exc)
        else:
            row.status = "pending"
            row.due_at = utcnow() + timedelta(seconds=_wait_seconds(row.attempts, exc))
            report = log.error if row.attempts == MAX_ATTEMPTS else log.warning  # failing from now on: staff see it
            report("outbox %s (%s) attempt %s failed, retry at %s: %s", outbox_id, topic, row.attempts, row.due_at, exc)
        return row.status
