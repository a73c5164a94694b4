"""A doctor's in-clinic booking page (诊间预约, R5.7): their own sessions ahead with the units of
the clinic pool, and a follow-up booked for a patient found by mobile or ID number.

Only the logged-in doctor's own sessions are offered, and a period of anyone else's session
is answered 404 whatever the form says; the booking itself goes through
``core.backoffice.referrals.book_in_clinic`` (the engine's rules, an audit entry).
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.backoffice import referrals, scope
from guahao.core.errors import DomainError, NotFound

from ..kit.pages import Console, console_page
from . import picking


async def _own_period(c: Console, period_id: int | None) -> None:
    """404 unless ``period_id`` is a period of one of the doctor's own sessions."""
    doctor_id = c.principal.doctor_id
    if period_id is None or doctor_id is None:
        raise NotFound("period", code="not_found")
    async with c.transaction() as s:
        _period, cs = await scope.period_with_session(s, period_id, c.principal.hospital_id)
    if cs.doctor_id != doctor_id:
        raise NotFound("period", code="not_found")


async def _page(c: Console, *, error: str | None = None, status: int = 200) -> Response:
    async with c.transaction() as s:
        sessions = (await picking.reserved_sessions(s, pool="clinic", doctor_id=c.principal.doctor_id)
                    if c.principal.doctor_id else [])
    return c.render("clinic/page.html", status=status, sessions=sessions, error=error,
                    q=c.form.get("q", ""), **picking.LABELS)


@console_page("booking.clinic")
async def clinic(c: Console) -> Response:
    return await _page(c)


@console_page("booking.clinic")
async def book(c: Console) -> Response:
    period_id = c.int_field("period_id")
    await _own_period(c, period_id)
    try:
        async with c.transaction() as s:
            member = await picking.find_member(s, c.form.get("q", ""))
        view = await referrals.book_in_clinic(c.rt, doctor_id=c.principal.doctor_id, member_id=member.id,
                                              period_id=period_id, actor=c.actor(), hospital_id=c.principal.hospital_id)
    except DomainError as exc:
        return await _page(c, error=c.refusal(exc), status=exc.status)
    return c.redirect("clinic", flash=c._("Follow-up booked: %(ref)s, %(date)s %(start)s.", ref=view["id"],
                                          date=view["date"], start=view["start"]))


def routes() -> list:
    return [
        Route("/c/{city}/clinic", clinic, methods=["GET"]),
        Route("/c/{city}/clinic/book", book, methods=["POST"]),
    ]
