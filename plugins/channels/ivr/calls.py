"""The calls table's operations: open a call once per ``CallSid``, read it, move it on by one
turn (a conditional update, so two processes answering the same request act once), and note
its end and minutes once."""

from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from guahao.plugin_api import city_session, report_usage, utcnow

from .models import IvrCall

METER = "phone.minutes"


def new_ref() -> str:
    """An eight-digit call reference (no leading zero), read out digit by digit."""
    return str(secrets.randbelow(90_000_000) + 10_000_000)


async def get(rt, city, call_sid: str) -> IvrCall | None:
    async with city_session(rt, city) as s:
        return await s.scalar(select(IvrCall).where(IvrCall.call_sid == call_sid))


async def by_ref(rt, city, ref: str) -> IvrCall | None:
    async with city_session(rt, city) as s:
        return await s.scalar(select(IvrCall).where(IvrCall.ref == ref))


async def open_call(rt, city, call_sid: str, caller: str) -> tuple[IvrCall, bool]:
    """The call's row and whether this request created it (``False``: a repeated start)."""
    for _ in range(5):
        try:
            async with city_session(rt, city) as s:
                row = IvrCall(call_sid=call_sid, ref=new_ref(), caller=caller[:40])
                s.add(row)
                await s.flush()
                return row, True
        except IntegrityError:
            existing = await get(rt, city, call_sid)
            if existing is not None:
                return existing, False
    raise RuntimeError("no free call reference")


async def advance(rt, city, call: IvrCall, *, turn: int, state: dict, reply: dict, effects=None) -> bool:
    """Store the state and reply of ``turn`` if the call is still at it: ``False`` when another
    request moved it on first. ``effects(session)`` runs in the same transaction, only when
    this request moved the call on (so it happens once per turn)."""
    status = {"agent": "agent", "hangup": "ended"}.get(reply.get("end", ""), "active")
    values = {"turn": turn + 1, "state": state, "reply": reply, "status": status,
              "member_id": state.get("member_id") if state.get("verified") else None,
              "booking_id": state.get("booking", "")[:24]}
    if status == "ended":
        values["ended_at"] = utcnow()
    async with city_session(rt, city) as s:
        done = await s.execute(update(IvrCall).where(IvrCall.id == call.id, IvrCall.turn == turn).values(**values))
        if done.rowcount == 1 and effects is not None:
            await effects(s)
    return done.rowcount == 1


async def finish(rt, city, call_sid: str, *, caller: str, seconds: int, at: datetime | None = None) -> bool:
    """Note the call's end and report its minutes (started minutes, at least one) once:
    ``True`` when this request reported them. A call the platform reports without ever having
    asked for the menu gets a row too, so its minutes are still counted."""
    if await get(rt, city, call_sid) is None:
        await open_call(rt, city, call_sid, caller)
    minutes = max(1, math.ceil(max(seconds, 0) / 60))
    async with city_session(rt, city) as s:
        done = await s.execute(
            update(IvrCall).where(IvrCall.call_sid == call_sid, IvrCall.minutes_reported.is_(False))
            .values(minutes_reported=True, status="ended", duration_seconds=seconds, ended_at=at or utcnow())
        )
        if done.rowcount == 1:
            report_usage(s, meter=METER, quantity=minutes, source_id=f"call:{call_sid}", occurred_at=at,
                         dimensions={"channel": "ivr"})
            return True
    return False


HANDOFF_VALID = timedelta(hours=2)


async def handed_member(rt, city, ref: str) -> int | None:
    """The member of the call ``ref`` when the menu handed it to an agent in the last two hours
    after the caller passed the PIN check; ``None`` otherwise (unknown, old, not handed on, or
    the caller never identified)."""
    if not (isinstance(ref, str) and ref.isdigit() and len(ref) == 8):
        return None
    call = await by_ref(rt, city, ref)
    if call is None or call.status != "agent" or call.member_id is None:
        return None
    if call.started_at < utcnow() - HANDOFF_VALID:
        return None
    return call.member_id
