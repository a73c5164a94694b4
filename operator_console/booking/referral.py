"""A community centre clerk's referral pages (社区转诊, R5.8): book a patient into a hospital's
referral pool with a note, and follow the centre's referrals to the visit.

The centre is always the clerk's own (``principal.hospital_id``): it is never read from the
form, so a clerk can neither book in another centre's name nor list its referrals.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.backoffice import referrals
from guahao.core.backoffice.scope import mask_name
from guahao.core.errors import DomainError, NotFound
from guahao.core.models import Hospital, Member

from ..kit.pages import Console, console_page
from . import picking


def _centre(c: Console) -> int:
    if c.principal.hospital_id is None:
        raise NotFound("centre", code="hospital_not_found")
    return c.principal.hospital_id


async def _page(c: Console, *, error: str | None = None, status: int = 200) -> Response:
    centre = _centre(c)
    hospital_id, department_id = c.int_field("hospital_id"), c.int_field("department_id")
    async with c.transaction() as s:
        hospitals = await picking.hospitals(s, exclude=centre)
        if hospital_id is not None and hospital_id not in {h["id"] for h in hospitals}:
            raise NotFound("hospital", code="hospital_not_found")
        departments = await picking.departments(s, hospital_id) if hospital_id else []
        sessions = None
        if hospital_id is not None and department_id is not None:
            await picking.department(s, department_id, hospital_id)
            sessions = await picking.reserved_sessions(s, pool="referral", department_id=department_id)
    return c.render("referral/page.html", status=status, hospitals=hospitals, departments=departments,
                    hospital_id=hospital_id, department_id=department_id, sessions=sessions, error=error,
                    q=c.form.get("q", ""), note=c.form.get("note", ""), **picking.LABELS)


@console_page("booking.referral")
async def referral(c: Console) -> Response:
    return await _page(c)


@console_page("booking.referral")
async def book(c: Console) -> Response:
    centre = _centre(c)
    try:
        period_id = c.int_field("period_id")
        if period_id is None:
            raise NotFound("period", code="not_found")
        async with c.transaction() as s:
            member = await picking.find_member(s, c.form.get("q", ""))
        view = await referrals.book_referral(c.rt, centre_id=centre, member_id=member.id, period_id=period_id,
                                             actor=c.actor(), note=c.form.get("note", ""))
    except DomainError as exc:
        return await _page(c, error=c.refusal(exc), status=exc.status)
    return c.redirect("referral/list", flash=c._("Referral booked: %(ref)s, %(date)s %(start)s.", ref=view["id"],
                                                 date=view["date"], start=view["start"]))


@console_page("booking.referral")
async def referral_list(c: Console) -> Response:
    rows = await referrals.list_referrals(c.rt, centre_id=_centre(c), limit=200)
    async with c.transaction() as s:
        hospitals = {h.id: h.short_name or h.name for h in (await s.scalars(select(Hospital))).all()}
        ids = {r.member_id for r, _ in rows}
        members = {m.id: mask_name(m.name) for m in (await s.scalars(select(Member).where(Member.id.in_(ids or {-1})))).all()}
    return c.render("referral/list.html", rows=rows, hospitals=hospitals, members=members,
                    local=lambda at: at.astimezone(c.city.tz).strftime("%Y-%m-%d %H:%M"), **picking.LABELS)


def routes() -> list:
    return [
        Route("/c/{city}/referral", referral, methods=["GET"]),
        Route("/c/{city}/referral/book", book, methods=["POST"]),
        Route("/c/{city}/referral/list", referral_list, methods=["GET"]),
    ]
