"""A hospital's complaints (R10.2, R11.2): listed by status, answered and closed.

Hospital staff see their own hospital's complaints only; a complaint of another hospital is
answered 404 by URL and by form. Patients appear masked, as on every staff screen.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.backoffice import complaints as service
from guahao.core.backoffice.scope import mask_name
from guahao.core.errors import DomainError, NotFound
from guahao.core.models import Complaint, ComplaintStatus, Member

from ..kit.pages import Console, console_page
from .pick import STATUS_LABELS, chosen_hospital, refusal

CATEGORIES = {"service": "Service", "waiting": "Waiting", "medical": "Medical care", "fees": "Fees",
              "environment": "Environment", "booking": "Booking", "other": "Other"}


async def _page(c: Console, *, status: int = 200, error: str | None = None, failed_id: int | None = None) -> Response:
    wanted = c.request.query_params.get("status", "")
    wanted = wanted if wanted in ComplaintStatus.__members__ else ""
    async with c.transaction() as s:
        hospital, choices = await chosen_hospital(c, s)
    rows, names = [], {}
    if hospital is not None:
        rows = await service.hospital_complaints(c.rt, hospital.id, status=wanted or None)
        async with c.transaction() as s:
            ids = {r.member_id for r in rows}
            names = {mid: mask_name(name) for mid, name in (await s.execute(
                select(Member.id, Member.name).where(Member.id.in_(ids or {-1})))).all()}
    return c.render("hospital/complaints.html", status=status, hospital=hospital, choices=choices, rows=rows,
                    names=names, wanted=wanted, statuses=list(ComplaintStatus.__members__),
                    status_labels=STATUS_LABELS, categories=CATEGORIES, tz=c.city.tz, error=error,
                    failed_id=failed_id)


@console_page("complaints.handle")
async def complaint_list(c: Console) -> Response:
    return await _page(c)


async def _scoped(c: Console) -> Complaint:
    async with c.transaction() as s:
        found = await s.get(Complaint, c.request.path_params["id"])
        if found is None:
            raise NotFound("complaint")
        await c.check_hospital(s, found.hospital_id)
    return found


async def _act(c: Console, action, flash: str) -> Response:
    complaint = await _scoped(c)
    try:
        await action(complaint)
    except DomainError as exc:
        return await _page(c, status=exc.status, error=refusal(c, exc), failed_id=complaint.id)
    return c.redirect(f"hospital/complaints?hospital={complaint.hospital_id}#complaint-{complaint.id}", flash=flash)


@console_page("complaints.handle")
async def complaint_reply(c: Console) -> Response:
    text = c.form.get("reply", "")
    return await _act(c, lambda x: service.reply(c.rt, x.id, text=text, actor=c.actor(), hospital_id=x.hospital_id),
                      c._("Reply sent."))


@console_page("complaints.handle")
async def complaint_close(c: Console) -> Response:
    return await _act(c, lambda x: service.close(c.rt, x.id, actor=c.actor(), hospital_id=x.hospital_id),
                      c._("Complaint closed."))


def routes() -> list:
    return [
        Route("/c/{city}/hospital/complaints", complaint_list, methods=["GET"]),
        Route("/c/{city}/hospital/complaints/{id:int}/reply", complaint_reply, methods=["POST"]),
        Route("/c/{city}/hospital/complaints/{id:int}/close", complaint_close, methods=["POST"]),
    ]
