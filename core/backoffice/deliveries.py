"""Deliveries (R15.4): what the outbox still has to do, and what a person decided about it.

Every side effect the platform owes the outside world — a push to a hospital's HIS, a refund
or a void at a payment provider, a message to a patient, an event for plugins and licensing —
is an outbox row (``core.outbox``) that retries until it succeeds (``core.jobs.runner``). This
module shows those rows to the city's administrators (a hospital's administrator: the rows of
its own hospital's bookings) and lets them act:

- **retry**: run it now (a failing one, or one that gave up or was abandoned), audited;
- **abandon**: stop retrying, with a reason (e.g. the refund was paid at the cashier), audited.

A row's *state* for people: ``waiting`` (not tried yet), ``retrying`` (failed fewer than
``MAX_ATTEMPTS`` times), ``failing`` (failed at least that often and still retrying),
``failed`` (a notification that gave up, or a delivery the far end refused for good),
``abandoned``, ``done``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from guahao.core.jobs.context import GIVES_UP, MAX_ATTEMPTS
from guahao.core.models import Booking, Hospital, OutboxMessage
from guahao.tenants.clock import utcnow

OPEN = ("pending", "queued")
CLOSED = ("failed", "abandoned")
VIEWS = ("problems", "open", "closed")
"""``problems``: every open row that failed at least once, and every failed one; ``open``: every
row still to run, oldest first; ``closed``: rows that gave up or were abandoned, newest first."""
LIMIT = 200
SCAN = 2000  # rows read to find a hospital's (its rows are those of its bookings)
REASON_MIN, REASON_MAX = 2, 300


@dataclass(frozen=True)
class Delivery:
    """One outbox row as staff see it."""

    id: int
    topic: str
    state: str
    attempts: int
    created_at: datetime
    due_at: datetime
    booking_id: str
    hospital_id: int | None
    hospital_name: str
    action: str  # the payload's ``action`` or ``kind`` (``book``, ``cancel``, ``booking_confirmed`` …)
    error: str  # the last error's first line
    gives_up: bool  # a notification: stops after MAX_ATTEMPTS


@dataclass(frozen=True)
class Summary:
    """Counts of the city's (or hospital's) open and closed rows, and the oldest open one."""

    waiting: int
    retrying: int
    failing: int
    failed: int
    abandoned: int
    oldest_open: datetime | None

    @property
    def problems(self) -> int:
        return self.failing + self.failed


def state_of(row: OutboxMessage) -> str:
    if row.status in ("done", "failed", "abandoned"):
        return str(row.status)
    if row.attempts >= MAX_ATTEMPTS:
        return "failing"
    return "retrying" if row.attempts else "waiting"


def _error_head(text: str) -> str:
    return (text or "").strip().splitlines()[0][:300] if (text or "").strip() else ""


def _booking_of(row: OutboxMessage) -> str:
    """The booking a row is about (its payload's ``booking_id``), "" when none."""
    payload = row.payload if isinstance(row.payload, dict) else {}
    return str(payload.get("booking_id") or "")


async def _hospitals_of(s: AsyncSession, rows: list[OutboxMessage]) -> dict[str, tuple[int, str]]:
    """``booking id → (hospital id, name)`` for the rows that name a booking."""
    ids = {b for b in map(_booking_of, rows) if b}
    if not ids:
        return {}
    found = (await s.execute(
        select(Booking.id, Booking.hospital_id, Hospital.name)
        .join(Hospital, Hospital.id == Booking.hospital_id)
        .where(Booking.id.in_(ids))
    )).all()
    return {b: (h, name) for b, h, name in found}


def _delivery(row: OutboxMessage, hospitals: dict[str, tuple[int, str]]) -> Delivery:
    payload = row.payload if isinstance(row.payload, dict) else {}
    booking_id = _booking_of(row)
    hospital_id, hospital_name = hospitals.get(booking_id, (None, ""))
    return Delivery(
        id=int(row.id or 0), topic=row.topic, state=state_of(row), attempts=row.attempts, created_at=row.created_at,
        due_at=row.due_at, booking_id=booking_id, hospital_id=hospital_id, hospital_name=hospital_name,
        action=str(payload.get("action") or payload.get("kind") or ""), error=_error_head(row.last_error),
        gives_up=row.topic in GIVES_UP,
    )


def _query(view: str):
    q = select(OutboxMessage)
    if view == "open":
        return q.where(OutboxMessage.status.in_(OPEN)).order_by(OutboxMessage.created_at, OutboxMessage.id)
    if view == "closed":
        return q.where(OutboxMessage.status.in_(CLOSED)).order_by(OutboxMessage.id.desc())
    return (q.where((OutboxMessage.status.in_(OPEN) & (OutboxMessage.attempts > 0)) | (OutboxMessage.status == "failed"))
            .order_by(OutboxMessage.attempts.desc(), OutboxMessage.id))


async def list_deliveries(
    s: AsyncSession, *, view: str = "problems", hospital_id: int | None = None, limit: int = LIMIT
) -> list[Delivery]:
    """The current city's rows of ``view`` (see :data:`VIEWS`); with ``hospital_id`` only the
    rows of that hospital's bookings."""
    if view not in VIEWS:
        raise ValidationFailed("invalid_view", "未知的列表。 / Unknown list.", details={"view": view})
    rows = list((await s.scalars(_query(view).limit(limit if hospital_id is None else SCAN))).all())
    hospitals = await _hospitals_of(s, rows)
    out = [_delivery(r, hospitals) for r in rows]
    if hospital_id is not None:
        out = [d for d in out if d.hospital_id == hospital_id]
    return out[:limit]


async def summary(s: AsyncSession, *, hospital_id: int | None = None) -> Summary:
    """How many rows wait, retry, fail, gave up or were abandoned; the oldest open one."""
    if hospital_id is not None:  # a hospital's rows are found row by row (through their bookings)
        rows = list((await s.scalars(
            select(OutboxMessage).where(OutboxMessage.status.in_(OPEN + CLOSED)).limit(SCAN)
        )).all())
        hospitals = await _hospitals_of(s, rows)
        mine = [r for r in rows if hospitals.get(_booking_of(r), (None,))[0] == hospital_id]
        states = [state_of(r) for r in mine]
        opened = [r.created_at for r in mine if r.status in OPEN]
        return Summary(*(states.count(k) for k in ("waiting", "retrying", "failing", "failed", "abandoned")),
                       oldest_open=min(opened) if opened else None)
    failing, tried = OutboxMessage.attempts >= MAX_ATTEMPTS, OutboxMessage.attempts > 0
    open_rows = (await s.execute(
        select(failing, tried, func.count(), func.min(OutboxMessage.created_at))
        .where(OutboxMessage.status.in_(OPEN)).group_by(failing, tried)
    )).all()
    closed = dict((await s.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.status.in_(CLOSED)).group_by(OutboxMessage.status)
    )).all())
    counts = {"waiting": 0, "retrying": 0, "failing": 0}
    oldest: datetime | None = None
    for is_failing, was_tried, n, first in open_rows:
        counts["failing" if is_failing else "retrying" if was_tried else "waiting"] += n
        oldest = first if oldest is None or (first is not None and first < oldest) else oldest
    return Summary(counts["waiting"], counts["retrying"], counts["failing"], closed.get("failed", 0),
                   closed.get("abandoned", 0), oldest)


async def _row(s: AsyncSession, outbox_id: int, hospital_id: int | None) -> OutboxMessage:
    row = await s.scalar(select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update())
    if row is None or hospital_id is not None and (await _hospitals_of(s, [row])).get(
            _booking_of(row), (None,))[0] != hospital_id:
        raise _missing(outbox_id)
    return row


def _missing(outbox_id: int) -> DomainError:
    exc = NotFound("delivery", "delivery_not_found")
    exc.message = "未找到该投递任务，请核对后重试。 / No such delivery in your scope."
    exc.details = {"id": outbox_id}
    return exc


def _snapshot(row: OutboxMessage) -> dict:
    return {"topic": row.topic, "status": row.status, "attempts": row.attempts, "due_at": row.due_at,
            "last_error": _error_head(row.last_error)}


async def retry(s: AsyncSession, actor: Actor, outbox_id: int, *, hospital_id: int | None = None) -> OutboxMessage:
    """Run the row again now: an open one at once, a failed or abandoned one once more."""
    row = await _row(s, outbox_id, hospital_id)
    if row.status == "done":
        raise Conflict("delivery_done", "该投递已经完成，无需重试。 / This delivery is done already.", details={"id": outbox_id})
    before = _snapshot(row)
    row.status, row.due_at, row.done_at = "pending", utcnow(), None
    audit.record(s, actor, "outbox.retry", target_type="outbox", target_id=row.id,
                 summary=f"delivery {row.id} ({row.topic}) retried now after {row.attempts} failed attempts",
                 before=before, after=_snapshot(row))
    return row


async def abandon(
    s: AsyncSession, actor: Actor, outbox_id: int, reason: str, *, hospital_id: int | None = None
) -> OutboxMessage:
    """Stop retrying the row, for ``reason`` (kept in the audit log)."""
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise ValidationFailed(
            "reason_required",
            f"请填写放弃的原因（{REASON_MIN}–{REASON_MAX} 个字）。 / Give the reason ({REASON_MIN}–{REASON_MAX} characters).",
            details={"field": "reason"})
    row = await _row(s, outbox_id, hospital_id)
    if row.status not in OPEN + ("failed",):
        raise Conflict("delivery_closed", "该投递已经完成或已放弃。 / This delivery is done or abandoned already.",
                       details={"id": outbox_id, "status": row.status})
    before = _snapshot(row)
    row.status, row.done_at = "abandoned", utcnow()
    audit.record(s, actor, "outbox.abandon", target_type="outbox", target_id=row.id, reason=reason,
                 summary=f"delivery {row.id} ({row.topic}) abandoned after {row.attempts} failed attempts",
                 before=before, after=_snapshot(row))
    return row


async def retry_all_failed(s: AsyncSession, actor: Actor, *, hospital_id: int | None = None) -> list[int]:
    """Every failing or failed row of the city (or hospital) runs again now; their ids."""
    rows = [d for d in await list_deliveries(s, view="problems", hospital_id=hospital_id, limit=SCAN)
            if d.state in ("failing", "failed")]
    for d in rows:
        await retry(s, actor, d.id, hospital_id=hospital_id)
    return [d.id for d in rows]
