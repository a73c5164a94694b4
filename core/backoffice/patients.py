"""Finding a patient (会员) for staff: by mobile number or ID number, shown masked.

ID numbers are stored encrypted; the lookup goes through their keyed hash, so staff can find a
member by the number the caller reads out without the database ever holding it in clear.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.members.ids import normalize_id_number
from guahao.core.members.service import normalize_phone
from guahao.core.models import Member
from guahao.tenants.clock import utcnow
from guahao.tenants.crypto import cipher

from . import errors
from .scope import mask_name, mask_phone


class PatientMatch(BaseModel):
    """A member as staff see them before and after confirming who they speak to."""

    member_id: int
    name: str  # masked
    phone: str  # masked
    id_number: str  # masked
    suspended_until: datetime | None = None


def match_view(member: Member) -> PatientMatch:
    suspended = member.suspended_until if member.suspended_until and member.suspended_until > utcnow() else None
    return PatientMatch(
        member_id=member.id, name=mask_name(member.name), phone=mask_phone(member.phone),
        id_number=member.id_number_masked, suspended_until=suspended,
    )


def _condition(query: str):
    text = (query or "").strip()
    mobile = normalize_phone(text) if len(text) <= 20 else None
    if mobile is not None:
        return Member.phone == mobile
    number = normalize_id_number(text)
    if len(number) == 18 and number.isascii() and number[:17].isdigit() and (number[17].isdigit() or number[17] == "X"):
        return Member.id_number_hash.in_(cipher().lookup_hashes(number))
    raise errors.invalid("query", "请输入11位手机号码或18位身份证号码。", code="invalid_lookup")


async def lookup(s: AsyncSession, query: str) -> Member | None:
    """The member whose mobile number or ID number is ``query`` (both are unique per city)."""
    return await s.scalar(select(Member).where(_condition(query)))


async def find_patient(rt, query: str) -> PatientMatch | None:
    """The member a mobile number or ID number names, masked; ``None`` when nobody has it."""
    async with rt.db.transaction() as s:
        member = await lookup(s, query)
        return match_view(member) if member is not None else None
