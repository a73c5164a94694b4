"""Each hospital's HIS at a glance (``guahao his status``, the console's HIS page): its adapter,
its last schedule pull and visit sweep, the pushes still owed to it, its health, and whether it
is degraded (pushes failing, the last pull or health check failed)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from guahao.core.jobs.context import MAX_ATTEMPTS
from guahao.core.models import Booking, HisSyncRun, Hospital, OutboxMessage
from guahao.core.plugins.interfaces import HIS_OPERATIONS
from guahao.tenants.context import require_city

from .sync import HEALTH_TIMEOUT_SECONDS, adapter_for, check_health

PUSH_TOPIC = "his.push"
HEALTH_CHECKS_AT_ONCE = 8  # hospitals asked at the same time (a down HIS costs its timeout, not everyone's)
OPEN = ("pending", "queued")


@dataclass
class HospitalHisStatus:
    """One hospital's row; ``reasons`` say in words why it is degraded."""

    hospital_id: int
    code: str
    name: str
    adapter: str = ""
    operations: list[str] = field(default_factory=list)
    last_sync: dict | None = None
    last_visits: dict | None = None
    pushes: dict = field(default_factory=lambda: {"waiting": 0, "retrying": 0, "failing": 0, "failed": 0})
    health: dict | None = None
    degraded: bool = False
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _run(run: HisSyncRun | None) -> dict | None:
    if run is None:
        return None
    return {"id": run.id, "at": _iso(run.finished_at or run.started_at), "outcome": run.outcome, "trigger": run.trigger,
            "items": run.items, "created": run.created, "changed": run.changed, "suspended": run.suspended,
            "error": run.error[:300]}


async def _last(s, hospital_id: int, kind: str) -> HisSyncRun | None:
    return await s.scalar(select(HisSyncRun).where(HisSyncRun.hospital_id == hospital_id, HisSyncRun.kind == kind)
                          .order_by(HisSyncRun.id.desc()).limit(1))


async def _pushes(s, hospital_id: int) -> dict:
    rows = (await s.execute(
        select(OutboxMessage.status, OutboxMessage.attempts, func.count())
        .join(Booking, OutboxMessage.payload["booking_id"].as_string() == Booking.id)
        .where(OutboxMessage.topic == PUSH_TOPIC, Booking.hospital_id == hospital_id,
               OutboxMessage.status.in_((*OPEN, "failed")))
        .group_by(OutboxMessage.status, OutboxMessage.attempts)
    )).all()
    out = {"waiting": 0, "retrying": 0, "failing": 0, "failed": 0}
    for status, attempts, count in rows:
        state = ("failed" if status == "failed" else "failing" if attempts >= MAX_ATTEMPTS
                 else "retrying" if attempts else "waiting")
        out[state] += int(count)
    return out


async def his_status(
    rt, *, hospital_id: int | None = None, check: bool = True, timeout: float = HEALTH_TIMEOUT_SECONDS
) -> list[HospitalHisStatus]:
    """The status of every active hospital of the current city (or of ``hospital_id``); with
    ``check`` each HIS is asked for its health now (``timeout`` seconds at most, recorded),
    else its last recorded check is shown."""
    plugins = await rt.plugins.for_city(require_city())
    async with rt.db.transaction() as s:
        stmt = select(Hospital).where(Hospital.active.is_(True)).order_by(Hospital.code)
        if hospital_id is not None:
            stmt = select(Hospital).where(Hospital.id == hospital_id)
        hospitals = list((await s.scalars(stmt)).all())
        rows = []
        for h in hospitals:
            row = HospitalHisStatus(h.id, h.code, h.name)
            adapter = adapter_for(plugins, h)
            if adapter is None and h.his_adapter:
                row.adapter = h.his_adapter
                row.reasons.append(f"adapter {h.his_adapter} is not enabled in this city")
            elif adapter is not None:
                row.adapter = adapter.name
                row.operations = [op for op in HIS_OPERATIONS if adapter.supports(op)]
            row.last_sync = _run(await _last(s, h.id, "schedules"))
            row.last_visits = _run(await _last(s, h.id, "visits"))
            last_health = await _last(s, h.id, "health")
            if last_health is not None:
                row.health = {"ok": last_health.outcome == "ok", "detail": (last_health.details or {}).get("detail", ""),
                              "latency_ms": (last_health.details or {}).get("latency_ms"),
                              "at": _iso(last_health.finished_at)}
            row.pushes = await _pushes(s, h.id)
            rows.append((row, adapter))
    if check:
        limit = asyncio.Semaphore(HEALTH_CHECKS_AT_ONCE)

        async def ask(row: HospitalHisStatus, adapter) -> None:
            async with limit:
                result = await check_health(rt, row.hospital_id, plugins=plugins, adapter=adapter, timeout=timeout)
            row.health = {"ok": result.ok, "detail": result.detail, "latency_ms": result.latency_ms, "at": None}

        await asyncio.gather(*(ask(row, adapter) for row, adapter in rows if adapter is not None))
    for row, _adapter in rows:
        problems = row.pushes["retrying"] + row.pushes["failing"] + row.pushes["failed"]
        if problems:
            row.reasons.append(f"{problems} HIS pushes failing")
        if row.last_sync and row.last_sync["outcome"] == "failed":
            row.reasons.append(f"last schedule pull failed: {row.last_sync['error']}")
        if row.last_visits and row.last_visits["outcome"] == "failed":
            row.reasons.append(f"last visit sweep failed: {row.last_visits['error']}")
        if row.health is not None and not row.health["ok"]:
            row.reasons.append(f"health check failed: {row.health['detail']}")
        row.degraded = bool(row.reasons)
    return [row for row, _ in rows]
