"""Handlers: a member's complaints (R10.2) and satisfaction surveys (R9.2); the rules live in
``core.feedback``."""

from __future__ import annotations

from guahao.core.booking.refs import normalise_ref
from guahao.core.catalogue import queries
from guahao.core.errors import Conflict, ValidationFailed
from guahao.core.feedback import complaints, surveys
from guahao.core.models import Booking, Complaint, SurveyResponse

from .operations import Call


def complaint_view(c: Complaint) -> dict:
    return {
        "id": c.id, "hospital_id": c.hospital_id, "booking_id": c.booking_id, "category": c.category,
        "text": c.text, "status": str(c.status), "reply": c.reply, "replied_at": c.replied_at,
        "closed_at": c.closed_at, "created_at": c.created_at, "updated_at": c.updated_at,
    }


async def submit_complaint(call: Call) -> dict:
    b = call.body
    async with call.rt.db.transaction() as s:
        await queries.get_hospital(s, b.hospital_id)  # an unknown hospital is 404, like an unknown period
        try:
            complaint = await complaints.submit_complaint(
                s, member_id=call.member_id, hospital_id=b.hospital_id, category=b.category, text=b.text,
                booking_id=b.booking_id,
            )
        except ValidationFailed as exc:
            if exc.code == "booking_mismatch":  # two valid references that do not belong together
                raise Conflict(exc.code, exc.message, details=exc.details) from None
            raise
        return complaint_view(complaint)


async def list_complaints(call: Call) -> dict:
    async with call.rt.db.transaction() as s:
        return {"items": [complaint_view(c) for c in await complaints.list_complaints(s, call.member_id)]}


async def get_complaint(call: Call) -> dict:
    async with call.rt.db.transaction() as s:
        return complaint_view(
            await complaints.get_complaint(s, call.params["complaint_id"], member_id=call.member_id)
        )


def _open_survey(b: Booking) -> dict:
    return {
        "booking_id": b.id, "hospital_id": b.hospital_id, "department_id": b.department_id, "doctor_id": b.doctor_id,
        "date": b.session_date, "closes_at": surveys.survey_closes_at(b),
    }


def _survey_view(r: SurveyResponse) -> dict:
    return {
        "id": r.id, "booking_id": r.booking_id, "overall": r.overall, "waiting": r.waiting, "attitude": r.attitude,
        "comment": r.comment, "created_at": r.created_at,
    }


async def open_surveys(call: Call) -> dict:
    async with call.rt.db.transaction() as s:
        return {"items": [_open_survey(b) for b in await surveys.open_surveys(s, call.member_id)]}


async def submit_survey(call: Call) -> dict:
    b = call.body
    async with call.rt.db.transaction() as s:
        row = await surveys.submit_survey(
            s, member_id=call.member_id, booking_id=normalise_ref(call.params["booking_id"]), overall=b.overall,
            waiting=b.waiting, attitude=b.attitude, comment=b.comment,
        )
        return _survey_view(row)
