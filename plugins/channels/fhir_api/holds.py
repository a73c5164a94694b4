"""Periods held by clients (IHE ``$hold``): active holds per period, taking and using one."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import func, select

from guahao.plugin_api import city_session, utcnow

from .errors import FhirError
from .models import FhirHold


async def held_counts(rt, city, period_ids, *, except_client: str | None = None) -> dict[int, int]:
    """Active holds per period (other clients' only, with ``except_client``)."""
    ids = list(period_ids)
    if not ids:
        return {}
    q = (select(FhirHold.period_id, func.count()).where(FhirHold.period_id.in_(ids), FhirHold.status == "held",
                                                        FhirHold.expires_at > utcnow())
         .group_by(FhirHold.period_id))
    if except_client is not None:
        q = q.where(FhirHold.client_id != except_client)
    async with city_session(rt, city) as s:
        return {pid: int(n) for pid, n in (await s.execute(q)).all()}


async def take(rt, city, client_id: str, period_id: int, remaining: int) -> FhirHold:
    """Hold the period for the client for the city's hold minutes, ``remaining`` being its
    free units. The hold is written first and the period's live holds counted after it
    committed: when they outnumber the free units the new hold is released and refused (409
    ``slot_held``). Two holds racing for the last unit never both stand (the later commit sees
    the earlier); at worst both are refused."""
    hold = FhirHold(hold_id=secrets.token_hex(8), client_id=client_id, period_id=period_id,
                    expires_at=utcnow() + timedelta(minutes=city.rules.hold_minutes))
    async with city_session(rt, city) as s:
        s.add(hold)
    if (await held_counts(rt, city, [period_id])).get(period_id, 0) > remaining:
        await mark(rt, city, hold.hold_id, "released")
        raise FhirError(409, "conflict", "slot_held", "该时段已被其他应用锁定。/ The slot is held by another client.")
    return hold


async def own(rt, city, client_id: str, hold_id: str) -> FhirHold:
    """The client's live hold, or a 404 / 409 (expired or used)."""
    async with city_session(rt, city) as s:
        hold = await s.scalar(select(FhirHold).where(FhirHold.hold_id == hold_id[:40], FhirHold.client_id == client_id))
    if hold is None:
        raise FhirError(404, "not-found", "hold_not_found", "没有这个锁号。/ No such held appointment.")
    expires = hold.expires_at if hold.expires_at.tzinfo else hold.expires_at.replace(tzinfo=utcnow().tzinfo)
    if hold.status != "held" or expires <= utcnow():
        raise FhirError(409, "conflict", "hold_expired", "锁号已失效或已使用。/ The hold expired or was used.")
    return hold


async def mark(rt, city, hold_id: str, status: str) -> None:
    async with city_session(rt, city) as s:
        hold = await s.scalar(select(FhirHold).where(FhirHold.hold_id == hold_id))
        if hold is not None:
            hold.status = status
