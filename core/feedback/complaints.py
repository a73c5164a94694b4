"""Complaints (R10.2): a member submits, the hospital replies, the case is closed.

Status: ``submitted`` → ``replied`` (staff answered; may answer again) → ``closed``. A member
sees only their own complaints; another member's is answered as missing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import Conflict, NotFound, ValidationFailed
from guahao.core.models import Complaint, ComplaintStatus, Hospital
from guahao.tenants.clock import utcnow

from .visits import own_booking
from .visits import text as clean

CATEGORIES = ("service", "waiting", "medical", "fees", "environment", "booking", "other")
TEXT_MAX = 2000


async def submit_complaint(
    s: AsyncSession, *, member_id: int, hospital_id: int, category: str, text: str, booking_id: str | None = None
) -> Complaint:
    """File a complaint about a hospital, optionally about one of the member's bookings there."""
    if category not in CATEGORIES:
        raise ValidationFailed("invalid_category", "请选择投诉类别", details={"field": "category"})
    body = clean(text, TEXT_MAX, "text", required=True)
    if await s.scalar(select(Hospital.id).where(Hospital.id == hospital_id)) is None:
        raise ValidationFailed("invalid_hospital", "请选择医院", details={"field": "hospital_id"})
    if booking_id:
        booking = await own_booking(s, member_id, booking_id)
        if booking.hospital_id != hospital_id:
            raise ValidationFailed("booking_mismatch", "所选预约不属于该医院", details={"field": "booking_id"})
    complaint = Complaint(member_id=member_id, hospital_id=hospital_id, booking_id=booking_id or None,
                          category=category, text=body)
    s.add(complaint)
    await s.flush()
    return complaint


async def list_complaints(s: AsyncSession, member_id: int, *, limit: int = 50) -> list[Complaint]:
    q = select(Complaint).where(Complaint.member_id == member_id).order_by(Complaint.created_at.desc(), Complaint.id.desc())
    return list((await s.scalars(q.limit(limit))).all())


async def get_complaint(s: AsyncSession, complaint_id: int, *, member_id: int | None = None) -> Complaint:
    """One complaint; with ``member_id`` only if it is that member's."""
    q = select(Complaint).where(Complaint.id == complaint_id)
    if member_id is not None:
        q = q.where(Complaint.member_id == member_id)
    complaint = await s.scalar(q)
    if complaint is None:
        raise NotFound("投诉")
    return complaint


async def reply_to_complaint(s: AsyncSession, complaint_id: int, *, reply: str, staff: str) -> Complaint:
    """The hospital's answer (staff); the member sees it on their complaint page."""
    complaint = await get_complaint(s, complaint_id)
    if complaint.status == ComplaintStatus.closed:
        raise Conflict("complaint_closed", "该投诉已办结")
    complaint.reply = clean(reply, TEXT_MAX, "reply", required=True)
    complaint.replied_by = staff[:80]
    complaint.replied_at = complaint.updated_at = utcnow()
    complaint.status = ComplaintStatus.replied
    await s.flush()
    return complaint


async def close_complaint(s: AsyncSession, complaint_id: int, *, staff: str) -> Complaint:
    """Close the case (staff); closing twice is a no-op."""
    complaint = await get_complaint(s, complaint_id)
    if complaint.status != ComplaintStatus.closed:
        complaint.status = ComplaintStatus.closed
        complaint.closed_at = complaint.updated_at = utcnow()
        complaint.replied_by = complaint.replied_by or staff[:80]
        await s.flush()
    return complaint
