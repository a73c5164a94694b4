"""The member behind a WeChat openid (微信公众号), and binding an openid to a member.

A member's openid is their address for WeChat template messages (``Member.wechat_openid``,
read by ``core.notifications.planning``); it is unique in a city. These calls change it the way
the member's profile does (``core.members.service.update_contacts``), each in its own
transaction of the current city.
"""

from __future__ import annotations

from sqlalchemy import select

from guahao.core.members.service import update_contacts
from guahao.core.models import Member

from .members import ChannelMember


async def member_by_openid(rt, openid: str) -> ChannelMember | None:
    """The current city's member bound to this openid, or ``None``."""
    if not openid:
        return None
    async with rt.db.transaction() as s:
        row = (await s.execute(
            select(Member.id, Member.name, Member.phone, Member.suspended_until).where(Member.wechat_openid == openid)
        )).first()
    return ChannelMember(row.id, row.name, row.phone, row.suspended_until) if row is not None else None


async def bind_openid(rt, member_id: int, openid: str) -> bool:
    """Make ``openid`` the member's WeChat address: ``True`` when it changed. An openid bound to
    another member moves to this one (the WeChat user last logged in as this member); an openid
    the member had before is replaced."""
    async with rt.db.transaction() as s:
        current = await s.scalar(select(Member.wechat_openid).where(Member.id == member_id))
        if current == openid:
            return False
        for other in (await s.scalars(select(Member.id).where(Member.wechat_openid == openid,
                                                                Member.id != member_id))).all():
            await update_contacts(s, other, wechat_openid="")
        await update_contacts(s, member_id, wechat_openid=openid)
    return True


async def unbind_openid(rt, openid: str) -> int | None:
    """Clear ``openid`` from the member it is bound to (they stopped following the account):
    that member's id, or ``None`` when none had it."""
    if not openid:
        return None
    async with rt.db.transaction() as s:
        member_id = await s.scalar(select(Member.id).where(Member.wechat_openid == openid))
        if member_id is not None:
            await update_contacts(s, member_id, wechat_openid="")
    return member_id
