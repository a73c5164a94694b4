"""Pulls from a hospital's HIS, each recorded as a run (``HisSyncRun``): schedules, the visit
sweep, health checks; and the outbox rows that ask for a pull (``his.sync``).

A pull that fails (the HIS down, a timeout, a bad answer) is recorded with its error and
raised, so the outbox retries it later with back-off; nothing waits on it: bookings go on and
pushes queue as usual. The hospital shows as degraded until a pull succeeds (``status``).
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import select

from guahao.core import outbox
from guahao.core.booking import events
from guahao.core.booking.credit import apply_no_show
from guahao.core.booking.engine import check_in
from guahao.core.errors import Conflict, NotFound
from guahao.core.models import Booking, BookingStatus, HisSyncRun, Hospital, OutboxMessage
from guahao.core.plugins.interfaces import HisAdapter, HisHealth
from guahao.core.plugins.manager import attach_runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from .schedules import apply_schedule

SYNC_TOPIC = "his.sync"
"""Outbox topic of a pull: ``{"hospital_id", "kind": "schedules"|"visits", "trigger", "date_from",
"date_to"}`` (schedules; both dates optional: today to the end of the booking window) or
``{"hospital_id", "kind": "visits", "day"}``."""
PULL_TIMEOUT_SECONDS = 60.0
HEALTH_TIMEOUT_SECONDS = 5.0
ERROR_MAX = 2000
OPEN_OUTBOX = ("pending", "queued")


class SyncFailed(RuntimeError):
    """A pull failed; the run records why (the outbox retries the pull)."""


def adapter_for(plugins, hospital: Hospital) -> HisAdapter | None:
    """The hospital's HIS adapter: its own ``his_adapter`` when enabled in the city, else the
    city's first HIS plugin (the rule pushes follow)."""
    return plugins.hospital_his_adapter(hospital.his_adapter)


def lists_complete(adapter: HisAdapter, settings, what: str) -> bool:
    """The adapter (``schedules_complete`` / ``visits_complete`` attribute) or its settings say
    its list of ``what`` is complete: what it does not list does not exist at the HIS."""
    name = f"{what}_complete"
    return bool(getattr(adapter, name, False) or settings.get(name))


def today() -> date:
    return utcnow().astimezone(require_city().tz).date()


def horizon_days(hospital: Hospital) -> int:
    """Days ahead members may book at the hospital: how far a nightly pull reaches."""
    return int(hospital.booking_window_days or require_city().rules.booking_window_days)


def _error(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out waiting for the HIS"
    return f"{type(exc).__name__}: {exc}"[:ERROR_MAX]


async def _hospital(rt, hospital_id: int) -> Hospital:
    async with rt.db.transaction() as s:
        hospital = await s.scalar(select(Hospital).where(Hospital.id == hospital_id))
    if hospital is None:
        raise NotFound("hospital", code="hospital_not_found")
    return hospital


async def _begin(rt, hospital_id: int, kind: str, trigger: str, adapter: str, date_from=None, date_to=None) -> int:
    async with rt.db.transaction() as s:
        run = HisSyncRun(hospital_id=hospital_id, kind=kind, trigger=trigger[:40], adapter=adapter,
                         date_from=date_from, date_to=date_to)
        s.add(run)
        await s.flush()
        return int(run.id)


async def _end(rt, run_id: int, **fields) -> HisSyncRun:
    async with rt.db.transaction() as s:
        run = await s.scalar(select(HisSyncRun).where(HisSyncRun.id == run_id))
        for key, value in fields.items():
            setattr(run, key, value)
        run.finished_at = utcnow()
        return run


async def prepare(rt, hospital_id: int, plugins, adapter, operation: str):
    """The hospital, its adapter (runtime attached) and the adapter's settings and secrets for
    it; ``his_not_supported`` (409) when it has none that does ``operation``."""
    hospital = await _hospital(rt, hospital_id)
    plugins = plugins or await rt.plugins.for_city(require_city())
    adapter = adapter or adapter_for(plugins, hospital)
    if adapter is None or not adapter.supports(operation):
        raise Conflict("his_not_supported", f"本院的 HIS 接口不支持此操作（{operation}）。The hospital's HIS does not "
                                            f"support {operation}.")
    attach_runtime(adapter, rt)
    try:
        settings, secrets = plugins.config_of(adapter, hospital.id)
    except KeyError:  # an adapter handed in by a caller, not of this plugin set
        settings, secrets = {}, {}
    return hospital, adapter, settings, secrets


async def sync_schedules(
    rt, hospital_id: int, *, date_from: date | None = None, date_to: date | None = None, trigger: str = "manual",
    plugins=None, adapter: HisAdapter | None = None,
) -> HisSyncRun:
    """Pull the hospital's schedule for the range (default: today to the end of its booking
    window) and apply it (``schedules.apply_schedule``); the run is returned, or ``SyncFailed``
    raised after recording it."""
    city = require_city()
    hospital, adapter, settings, secrets = await prepare(rt, hospital_id, plugins, adapter, "schedules")
    date_from = date_from or today()
    date_to = date_to or date_from + timedelta(days=horizon_days(hospital))
    run_id = await _begin(rt, hospital.id, "schedules", trigger, adapter.name, date_from, date_to)
    try:
        items = await asyncio.wait_for(
            adapter.pull_schedules(city, hospital.code, date_from, date_to, settings, secrets), PULL_TIMEOUT_SECONDS
        )
        complete = lists_complete(adapter, settings, "schedules")
        result = await apply_schedule(rt, hospital.id, list(items), date_from, date_to, adapter=adapter.name,
                                      complete=complete)
    except Exception as exc:
        await _end(rt, run_id, outcome="failed", error=_error(exc))
        raise SyncFailed(f"schedule pull of hospital {hospital.code} failed: {_error(exc)}") from exc
    return await _end(rt, run_id, outcome="ok", items=result.items, created=result.created, changed=result.changed,
                      suspended=result.suspended,
                      details={"complete": complete, "conflicts": result.conflicts[:200]})


async def _no_show(s, booking: Booking, *, actor: str, now) -> None:
    """The no-show the sweep of ``engine.mark_no_shows`` records, with its credit consequences."""
    booking.status = BookingStatus.no_show
    booking.updated_at = now
    events.record(s, booking, "no_show", at=now, actor=actor, data={"source": "his"})
    await events.write(s)
    await apply_no_show(s, booking, now=now)


async def sweep_visits(
    rt, hospital_id: int, day: date, *, trigger: str = "manual", plugins=None, adapter: HisAdapter | None = None,
) -> HisSyncRun:
    """Pull what the HIS saw of ``day``'s visits and act on the confirmed bookings (R4.1):
    checked in or seen → checked in; a no-show, or (when the HIS's list is complete) not listed
    once the period is over → no-show, with its credit consequences (R4.3)."""
    city = require_city()
    hospital, adapter, settings, secrets = await prepare(rt, hospital_id, plugins, adapter, "visits")
    run_id = await _begin(rt, hospital.id, "visits", trigger, adapter.name, day, day)
    actor = f"his:{adapter.name}"
    counts = {"reported": 0, "checked_in": 0, "no_shows": 0, "not_seen": 0}
    try:
        reported = await asyncio.wait_for(
            adapter.pull_visit_status(city, hospital.code, day, settings, secrets), PULL_TIMEOUT_SECONDS
        )
        complete = lists_complete(adapter, settings, "visits")
        by_id = {v.booking_id: v for v in reported}
        counts["reported"] = len(by_id)
        now = utcnow()
        async with rt.db.transaction() as s:
            due = (await s.scalars(
                select(Booking).where(Booking.hospital_id == hospital.id, Booking.session_date == day,
                                      Booking.status == BookingStatus.confirmed)
                .order_by(Booking.ends_at, Booking.id).with_for_update(skip_locked=True)
            )).all()
            for booking in due:
                visit = by_id.get(booking.id)
                outcome = visit.outcome if visit is not None else None
                if outcome in ("checked_in", "seen"):
                    at = visit.at if visit is not None and visit.at is not None else now
                    await check_in(s, booking.id, at=at, actor=actor)
                    counts["checked_in"] += 1
                elif booking.ends_at <= now and (outcome == "no_show" or (outcome is None and complete)):
                    await _no_show(s, booking, actor=actor, now=now)
                    counts["no_shows" if outcome else "not_seen"] += 1
    except Exception as exc:
        await _end(rt, run_id, outcome="failed", error=_error(exc), details=counts)
        raise SyncFailed(f"visit sweep of hospital {hospital.code} failed: {_error(exc)}") from exc
    return await _end(rt, run_id, outcome="ok", items=counts["reported"],
                      changed=counts["checked_in"] + counts["no_shows"] + counts["not_seen"],
                      details={**counts, "complete": complete})


async def check_health(
    rt, hospital_id: int, *, plugins=None, adapter: HisAdapter | None = None, timeout: float = HEALTH_TIMEOUT_SECONDS,
) -> HisHealth:
    """Ask the HIS whether it answers (within ``timeout`` seconds); recorded as a run."""
    city = require_city()
    hospital, adapter, settings, secrets = await prepare(rt, hospital_id, plugins, adapter, "health")
    run_id = await _begin(rt, hospital.id, "health", "status", adapter.name)
    try:
        health = await asyncio.wait_for(adapter.health(city, settings, secrets), timeout)
    except Exception as exc:
        health = HisHealth(ok=False, detail=_error(exc))
    await _end(rt, run_id, outcome="ok" if health.ok else "failed", error="" if health.ok else health.detail[:ERROR_MAX],
               details={"detail": health.detail[:500], "latency_ms": health.latency_ms})
    return health


async def request_pull(
    s, hospital_id: int, *, kind: str = "schedules", trigger: str = "manual", date_from: date | None = None,
    date_to: date | None = None, day: date | None = None,
) -> OutboxMessage:
    """Ask for a pull through the outbox, in the caller's transaction; an identical request
    still waiting is returned instead of a second one."""
    payload: dict = {"hospital_id": hospital_id, "kind": kind, "trigger": trigger}
    if date_from is not None:
        payload["date_from"] = date_from.isoformat()
    if date_to is not None:
        payload["date_to"] = date_to.isoformat()
    if day is not None:
        payload["day"] = day.isoformat()
    waiting = (await s.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == SYNC_TOPIC, OutboxMessage.status.in_(OPEN_OUTBOX))
    )).all()
    same = {k: v for k, v in payload.items() if k != "trigger"}
    for row in waiting:
        if {k: v for k, v in (row.payload or {}).items() if k != "trigger"} == same:
            return row
    return outbox.emit(s, SYNC_TOPIC, payload)


STALE_VISIT_DAYS = 2  # a visit sweep of an older day is no longer of use (the no-show sweep has run)


async def run_request(rt, plugins, payload: dict) -> HisSyncRun | None:
    """Carry out a ``his.sync`` outbox row (its handler). A request that waited past its use
    (a pull whose last day is gone, the visits of a day long over, while the HIS was down)
    is dropped: newer requests cover it. Returns the run, ``None`` when dropped."""
    hospital_id, kind = int(payload["hospital_id"]), payload.get("kind", "schedules")
    trigger = str(payload.get("trigger") or "outbox")
    if kind == "visits":
        day = date.fromisoformat(payload["day"]) if payload.get("day") else today()
        if day < today() - timedelta(days=STALE_VISIT_DAYS):
            return None
        return await sweep_visits(rt, hospital_id, day, trigger=trigger, plugins=plugins)
    if kind != "schedules":
        raise ValueError(f"unknown HIS pull kind {kind!r}")
    start = date.fromisoformat(payload["date_from"]) if payload.get("date_from") else None
    end = date.fromisoformat(payload["date_to"]) if payload.get("date_to") else None
    if end is not None and end < today():
        return None
    start = max(start, today()) if start is not None else None
    return await sync_schedules(rt, hospital_id, date_from=start, date_to=end, trigger=trigger, plugins=plugins)
