"""The member a channel's caller names by resident ID number (身份证号), found through the
keyed hash the members service stores (no ID number is ever compared in the clear)."""

from __future__ import annotations

from sqlalchemy import select

from guahao.core.members.ids import normalize_id_number
from guahao.core.models import Member
from guahao.tenants.crypto import cipher

from .members import ChannelMember


async def member_by_id_number(rt, id_number: str) -> ChannelMember | None:
    """The current city's member registered with this resident ID number (身份证号, X in any
    case), found through the keyed hash the members service stores; ``None`` when none is."""
    number = normalize_id_number(id_number or "")
    if not (len(number) == 18 and number.isascii() and number[:17].isdigit() and number[17] in "0123456789X"):
        return None
    async with rt.db.transaction() as s:
        row = (await s.execute(
            select(Member.id, Member.name, Member.phone, Member.suspended_until)
            .where(Member.id_number_hash.in_(cipher().lookup_hashes(number)))
        )).first()
    return ChannelMember(row.id, row.name, row.phone, row.suspended_until) if row is not None else None
