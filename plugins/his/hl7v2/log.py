"""The message log: each HL7 message sent or received, with its ACK code and text.

Pushes run inside the outbox, which hands the adapter no runtime; the plugin learns the runtime
from its hooks that receive one (the worker's start, booking events), else makes one of its own
from the environment. Writing the log never fails a push: a row that cannot be written is a warning.
"""

from __future__ import annotations

import logging
import weakref
from datetime import date

from sqlalchemy import select

from guahao.plugin_api import CityContext, city_session

from .models import Hl7v2Message, Hl7v2Received

log = logging.getLogger("guahao.plugins.hl7v2")

_runtime: "weakref.ReferenceType | None" = None


def remember_runtime(rt) -> None:
    """Keep (weakly) the runtime the plugin's hooks were called with."""
    global _runtime
    if rt is not None:
        _runtime = weakref.ref(rt)


_own = None


def runtime():
    """The runtime the hooks gave, else one of the plugin's own from the environment (a process
    such as ``guahao his sync`` that pulls schedules before any hook ran), made once."""
    global _own
    found = _runtime() if _runtime is not None else None
    if found is not None:
        return found
    if _own is None:
        from guahao.core.runtime import Runtime
        from guahao.tenants.settings import Settings

        _own = Runtime(Settings.from_env())
        log.info("hl7v2: no runtime handed over yet; using one of its own for the message tables")
    return _own


async def record(city: CityContext, *, rt=None, **row) -> None:
    """Add one row to the message log of ``city`` (``row``: the ``Hl7v2Message`` fields)."""
    row["text"] = str(row.get("text") or "")[:300]
    try:
        async with city_session(rt or runtime(), city) as s:
            s.add(Hl7v2Message(**row))
    except Exception:  # the log is for people; a push's outcome does not depend on it
        log.warning("hl7v2 message log not written", exc_info=True)


async def recent(rt, city: CityContext, hospital_id: int | None = None, limit: int = 100) -> list[Hl7v2Message]:
    """The last ``limit`` messages of a city (or of one hospital), newest first."""
    async with city_session(rt, city) as s:
        q = select(Hl7v2Message).order_by(Hl7v2Message.at.desc(), Hl7v2Message.id.desc()).limit(limit)  # type: ignore[union-attr]
        if hospital_id is not None:
            q = q.where(Hl7v2Message.hospital_id == hospital_id)
        return list((await s.scalars(q)).all())


async def received(rt, city: CityContext, hospital_code: str, *, kinds: tuple[str, ...], day_from: date,
                   day_to: date) -> list[Hl7v2Received]:
    """Received schedule/visit messages of a hospital for days ``day_from``..``day_to``, oldest first."""
    async with city_session(rt, city) as s:
        q = (select(Hl7v2Received)
             .where(Hl7v2Received.hospital_code == hospital_code, Hl7v2Received.kind.in_(kinds),  # type: ignore[attr-defined]
                    Hl7v2Received.day >= day_from, Hl7v2Received.day <= day_to)  # type: ignore[operator]
             .order_by(Hl7v2Received.at, Hl7v2Received.id))
        return list((await s.scalars(q)).all())
