"""The daily reconciliation job: once a day, from :data:`RECONCILE_HOUR` local time (when the
providers have published yesterday's statements: WeChat Pay from 10:00, Alipay from 09:00
Beijing time), ask through the outbox (topic :data:`TOPIC`) for yesterday's reconciliation of
every provider of the city that has statements. A day whose daily run found mismatches is
run once more from :data:`RECHECK_HOUR` (a statement published late, a callback that came
late). A day otherwise reconciled (or tried: its outbox job retries with back-off, and a final
failure is left to staff) or already asked for is not asked again. :func:`handle_reconcile` is the outbox handler."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import outbox
from guahao.core.errors import DomainError
from guahao.core.models import OutboxMessage, ReconciliationRun
from guahao.tenants.context import require_city

from .service import reconcile, statement_providers

log = logging.getLogger("guahao.payments.reconcile")

TOPIC = "payment.reconcile"
RECONCILE_HOUR = 10
RECHECK_HOUR = 14


async def plan_city(rt, s: AsyncSession, now: datetime) -> int:
    """Ask for yesterday's reconciliation of each of the current city's statement providers
    that is due; returns how many were asked for."""
    city = require_city()
    local = now.astimezone(city.tz)
    if local.hour < RECONCILE_HOUR:
        return 0
    providers = statement_providers(await rt.plugins.for_city(city))
    if not providers:
        return 0
    day = local.date() - timedelta(days=1)
    runs = {r.provider: r for r in (await s.scalars(select(ReconciliationRun).where(ReconciliationRun.day == day))).all()}
    waiting = {
        (str((m.payload or {}).get("provider")), str((m.payload or {}).get("day")))
        for m in (await s.scalars(select(OutboxMessage).where(
            OutboxMessage.topic == TOPIC, OutboxMessage.status.in_(("pending", "queued"))))).all()
    }
    asked = 0
    for provider in providers:
        run = runs.get(provider.name)
        if (provider.name, day.isoformat()) in waiting:
            continue
        if run is None:
            trigger = "daily"
        elif run.trigger == "daily" and run.outcome == "mismatches" and local.hour >= RECHECK_HOUR:
            trigger = "daily_recheck"  # a bill published late, a callback that came late: once more
        else:
            continue
        outbox.emit(s, TOPIC, {"provider": provider.name, "day": day.isoformat(), "trigger": trigger})
        asked += 1
    return asked


async def handle_reconcile(ctx, payload: dict) -> None:
    """The ``payment.reconcile`` outbox work: reconcile one provider's day. A statement that
    cannot be had raises (the runner retries with back-off); a provider no longer enabled or
    without statements is logged and dropped."""
    try:
        await reconcile(ctx.rt, str(payload["provider"]), date.fromisoformat(str(payload["day"])),
                        trigger=str(payload.get("trigger") or "daily"))
    except DomainError as exc:
        log.warning("reconciliation of %s %s dropped: %s", payload.get("provider"), payload.get("day"), exc)
