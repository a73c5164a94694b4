"""Writing and searching the audit log (R8.2, R12.3).

Services that change data on behalf of staff take an :class:`Actor` and call :func:`record`
in the same transaction as the change, so an action and its audit entry commit together or
not at all. Secrets never reach the log: keys that look like secrets are replaced.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models.audit import AuditEntry

SECRET_KEY = re.compile(r"(secret|password|passwd|token|private|api_?key|otp|totp)", re.I)
REDACTED = "***"


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff account, a vendor account, a member or the system.

    Parameters:
        kind: ``staff``, ``vendor``, ``member`` or ``system``.
        id: the account id (``None`` for the system).
        name: display name for the log.
        role: the role the action was taken in (``hospital_admin``, ``agent`` …).
        ip: the client address, when the action came over HTTP.
    """

    kind: str
    id: int | None = None
    name: str = ""
    role: str = ""
    ip: str = ""

    @property
    def label(self) -> str:
        return self.kind if self.id is None else f"{self.kind}:{self.id}"


SYSTEM = Actor("system", name="system")


def _plain(value: Any) -> Any:
    """JSON-safe copy with secret-looking keys redacted."""
    if isinstance(value, dict):
        return {str(k): (REDACTED if SECRET_KEY.search(str(k)) else _plain(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_type: str = "",
    target_id: Any = "",
    summary: str = "",
    reason: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Add an audit entry to ``session`` (committed with the caller's transaction)."""
    entry = AuditEntry(
        actor=actor.label,
        actor_name=actor.name[:120],
        actor_role=actor.role[:40],
        action=action[:60],
        target_type=target_type[:40],
        target_id=str(target_id)[:60],
        summary=summary[:500],
        reason=reason[:500],
        before=_plain(before) if before is not None else None,
        after=_plain(after) if after is not None else None,
        ip=actor.ip[:64],
    )
    session.add(entry)
    return entry


async def search(
    session: AsyncSession,
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    text: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The newest entries of the current city matching every given filter (keyset paging)."""
    q = select(AuditEntry)
    if actor:
        q = q.where(or_(AuditEntry.actor == actor, AuditEntry.actor_name == actor))
    if action:
        q = q.where(AuditEntry.action.startswith(action))
    if target_type:
        q = q.where(AuditEntry.target_type == target_type)
    if target_id:
        q = q.where(AuditEntry.target_id == str(target_id))
    if text:
        like = f"%{text}%"
        q = q.where(or_(AuditEntry.summary.ilike(like), AuditEntry.reason.ilike(like)))
    if since:
        q = q.where(AuditEntry.at >= since)
    if until:
        q = q.where(AuditEntry.at < until)
    if before_id:
        q = q.where(AuditEntry.id < before_id)
    q = q.order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 500)))
    return list((await session.execute(q)).scalars())
