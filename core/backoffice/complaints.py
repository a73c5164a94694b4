"""Complaints a hospital has to handle (R10.2, R11.2): its own only, every answer audited.

The case itself (statuses, texts) is ``core.feedback.complaints``; this adds the hospital's
scope and the staff member who acted.
"""

from __future__ import annotations

from sqlalchemy import select

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.feedback import complaints
from guahao.core.models import Complaint, ComplaintStatus

from . import errors


async def _own(s, complaint_id: int, hospital_id: int | None) -> Complaint:
    found = await s.scalar(select(Complaint).where(Complaint.id == complaint_id))
    if found is None or (hospital_id is not None and found.hospital_id != hospital_id):
        raise errors.Missing("投诉")
    return found


async def hospital_complaints(
    rt, hospital_id: int, *, status: str | None = None, limit: int = 100
) -> list[Complaint]:
    """The hospital's complaints, open ones first, oldest first within each status."""
    stmt = select(Complaint).where(Complaint.hospital_id == hospital_id)
    if status is not None:
        if status not in ComplaintStatus.__members__:
            raise errors.invalid("status", "投诉状态无效。", code="invalid_status")
        stmt = stmt.where(Complaint.status == status)
    order = (Complaint.status == ComplaintStatus.closed, Complaint.created_at, Complaint.id)
    async with rt.db.transaction() as s:
        return list((await s.scalars(stmt.order_by(*order).limit(max(1, min(limit, 500))))).all())


async def reply(rt, complaint_id: int, *, text: str, actor: Actor, hospital_id: int | None = None) -> Complaint:
    """Answer a complaint (may be answered again until closed)."""
    async with rt.db.transaction() as s:
        before = await _own(s, complaint_id, hospital_id)
        old = {"status": str(before.status), "reply": before.reply}
        done = await complaints.reply_to_complaint(s, complaint_id, reply=text, staff=actor.name or actor.label)
        audit.record(s, actor, "complaint.reply", target_type="complaint", target_id=complaint_id,
                     summary="答复投诉", before=old, after={"status": str(done.status), "reply": done.reply})
        return done


async def close(rt, complaint_id: int, *, actor: Actor, hospital_id: int | None = None) -> Complaint:
    """Close the case (办结); closing twice changes nothing and logs nothing."""
    async with rt.db.transaction() as s:
        found = await _own(s, complaint_id, hospital_id)
        if found.status == ComplaintStatus.closed:
            return found
        old = str(found.status)
        done = await complaints.close_complaint(s, complaint_id, staff=actor.name or actor.label)
        audit.record(s, actor, "complaint.close", target_type="complaint", target_id=complaint_id,
                     summary="投诉办结", before={"status": old}, after={"status": str(done.status)})
        return done
