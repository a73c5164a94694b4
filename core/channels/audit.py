"""A channel's callers in the audit log: a third-party application's calls through a channel's
API are recorded as actor ``client:<id>`` in the caller's transaction (``core.audit``, secrets
redacted there)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.audit import Actor, record


def record_call(
    session: AsyncSession, *, client_id: str, client_name: str, action: str, target_type: str = "",
    target_id: str = "", summary: str = "", ip: str = "", after: dict | None = None,
) -> None:
    """Add one audit entry for a client's call (committed with ``session``'s transaction)."""
    actor = Actor("client", name=f"{client_name} ({client_id})", role="api_client", ip=ip)
    entry = record(session, actor, action, target_type=target_type, target_id=target_id, summary=summary, after=after)
    entry.actor = f"client:{client_id}"[:60]
