"""Where a visit takes place (R2.1): the campus (院区) a session is held at.

This is the one fact every surface states about the place of a visit — the doctor page, the
confirmation and booking pages, the kiosk receipt, the agent's view, messages and the API.
A session names its campus; the hospital's own name and address stand in only when a session
has no campus. ``place_label`` is how people read it: ``南院区 · 南山区滨河大道 210 号``.

Queries that list sessions add :data:`PLACE_COLUMNS` to their own statement (joined with
:func:`join_place`) and turn the five values into a place with :func:`visit_place`, so the
place never costs a round trip of its own.
"""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Campus, ClinicSession, Hospital

PLACE_SEPARATOR = " · "

# The five values ``visit_place`` takes, in its order, for a statement over ``ClinicSession``
# joined with ``join_place``.
PLACE_COLUMNS = (
    Campus.id.label("campus_id"),
    Campus.name.label("campus_name"),
    Campus.address.label("campus_address"),
    Hospital.name.label("place_hospital_name"),
    Hospital.address.label("place_hospital_address"),
)


class VisitPlace(BaseModel):
    """The place of a visit as the API states it: the session's campus."""

    id: int | None = Field(description="院区 id (campus); null when the session names no campus and the "
                                       "hospital's own name and address are given", examples=[2])
    name: str = Field(description="院区名称 campus name", examples=["南院区"])
    address: str = Field(description="院区地址 campus address", examples=["南山区滨河大道 210 号"])

    @property
    def label(self) -> str:
        return place_label(self.model_dump())


def visit_place(
    campus_id: int | None,
    campus_name: str | None,
    campus_address: str | None,
    hospital_name: str | None,
    hospital_address: str | None,
) -> dict[str, Any]:
    """The place of a session as ``{"id", "name", "address"}``: its campus, or the hospital's
    name and address (``id`` None) when the session has no campus."""
    if campus_id is None:
        return {"id": None, "name": hospital_name or "", "address": hospital_address or ""}
    return {"id": campus_id, "name": campus_name or "", "address": campus_address or ""}


def place_label(place: Mapping[str, Any] | None) -> str:
    """The place as people read it: ``name · address`` (either left out when empty)."""
    if not place:
        return ""
    return PLACE_SEPARATOR.join(part for part in (place.get("name"), place.get("address")) if part)


def join_place(stmt, city_id: int | None = None, *, hospital: bool = True):
    """``stmt`` (over ``ClinicSession``) joined with the session's campus and hospital, for
    :data:`PLACE_COLUMNS` (``hospital=False`` when the statement joins the hospital already);
    with ``city_id`` the joined rows are held to that city."""
    campus_on = Campus.id == ClinicSession.campus_id
    hospital_on = Hospital.id == ClinicSession.hospital_id
    if city_id is not None:
        campus_on = campus_on & (Campus.city_id == city_id)
        hospital_on = hospital_on & (Hospital.city_id == city_id)
    stmt = stmt.outerjoin(Campus, campus_on)
    return stmt.join(Hospital, hospital_on) if hospital else stmt


async def session_places(s: AsyncSession, session_ids: set[int]) -> dict[int, dict[str, Any]]:
    """The places of sessions by session id, in one query."""
    if not session_ids:
        return {}
    rows = await s.execute(
        join_place(select(ClinicSession.id, *PLACE_COLUMNS).select_from(ClinicSession))
        .where(ClinicSession.id.in_(session_ids))
    )
    return {row[0]: visit_place(*row[1:]) for row in rows}


async def session_place(s: AsyncSession, session_id: int) -> dict[str, Any] | None:
    """The place of one session (``None`` for an unknown session)."""
    return (await session_places(s, {session_id})).get(session_id)


async def campus_count(s: AsyncSession, hospital_id: int) -> int:
    """How many campuses a hospital has (pages name the campus when there is more than one)."""
    return int(await s.scalar(select(func.count(Campus.id)).where(Campus.hospital_id == hospital_id)) or 0)
