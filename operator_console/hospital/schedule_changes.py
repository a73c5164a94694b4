"""Suspending (停诊) or moving (调班) a session from the console (R8): a form, a preview that
names every affected patient and what happens to each, then a confirmation.

The confirmation re-posts the same parameters and the service plans the change again under
its locks, so the result page shows what was actually done (a booking made between preview and
confirmation is included). The form, preview and confirmation all check that the session's
hospital is in the principal's scope.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.backoffice import changes
from guahao.core.backoffice.changes import REASON_MAX
from guahao.core.errors import DomainError
from guahao.core.models import ClinicSession, Doctor, HalfDay

from ..kit.pages import Console, console_page
from .pick import STATUS_LABELS, half_day_label, parse_date, refusal
from .schedules import scoped_session

WHY = {
    "no_room": "No free place in the new session",
    "already_booked": "The patient already holds a booking in the new session",
    "offer": "An unaccepted waitlist offer",
}


def _params(c: Console) -> dict:
    """The change's parameters as posted (strings, for re-rendering and re-posting)."""
    return {
        "reason": " ".join(c.form.get("reason", "").split())[:REASON_MAX + 50],
        "new_date": c.form.get("new_date", "").strip()[:10],
        "new_half_day": c.form.get("new_half_day", "").strip()[:10],
        "new_doctor_id": c.form.get("new_doctor_id", "").strip()[:10],
    }


async def _context(c: Console) -> tuple[ClinicSession, dict]:
    async with c.transaction() as s:
        cs = await scoped_session(c, s)
        doctors = list((await s.scalars(
            select(Doctor).where(Doctor.hospital_id == cs.hospital_id, Doctor.active.is_(True))
            .order_by(Doctor.department_id, Doctor.name))).all())
    current = next((d.name for d in doctors if d.id == cs.doctor_id), "")
    return cs, {"cs": cs, "doctors": doctors, "doctor_name": current, "half_days": list(HalfDay.__members__),
                "half_day": lambda v: half_day_label(c._, v), "status_labels": STATUS_LABELS, "why": WHY}


async def _form(c: Console, kind: str, *, status: int = 200, error: str | None = None, field: str | None = None) -> Response:
    cs, ctx = await _context(c)
    values = _params(c) if c.request.method == "POST" else {"reason": "", "new_date": "", "new_doctor_id": "",
                                                             "new_half_day": str(cs.half_day)}
    return c.render("schedule/change_form.html", status=status, kind=kind, values=values, error=error,
                    field=field, **ctx)


async def change_form(c: Console, kind: str) -> Response:
    return await _form(c, kind)


def _move_args(c: Console, values: dict) -> dict | None:
    day = parse_date(values["new_date"])
    if day is None:
        return None
    doctor = values["new_doctor_id"]
    return {"new_date": day, "new_half_day": values["new_half_day"],
            "new_doctor_id": int(doctor) if doctor.isdigit() and len(doctor) < 10 else None}


async def preview(c: Console, kind: str) -> Response:
    values = _params(c)
    cs, ctx = await _context(c)
    if not values["reason"]:
        return await _form(c, kind, status=422, field="reason",
                           error=c._("Please give the reason; patients read it in their notification."))
    try:
        if kind == "suspend":
            plan = await changes.preview_suspend(c.rt, cs.id, hospital_id=cs.hospital_id)
        else:
            args = _move_args(c, values)
            if args is None:
                return await _form(c, kind, status=422, field="new_date", error=c._("Choose the new date."))
            plan = await changes.preview_move(c.rt, cs.id, hospital_id=cs.hospital_id, **args)
    except DomainError as exc:
        field = exc.details.get("field") if isinstance(exc.details, dict) else None
        return await _form(c, kind, status=exc.status, error=refusal(c, exc), field=field)
    return c.render("schedule/change_preview.html", kind=kind, values=values, plan=plan, result=None, **ctx)


async def confirm(c: Console, kind: str) -> Response:
    values = _params(c)
    cs, ctx = await _context(c)
    try:
        if kind == "suspend":
            result = await changes.suspend(c.rt, cs.id, reason=values["reason"], actor=c.actor(),
                                           hospital_id=cs.hospital_id)
        else:
            args = _move_args(c, values)
            if args is None:
                return await _form(c, kind, status=422, field="new_date", error=c._("Choose the new date."))
            result = await changes.move(c.rt, cs.id, reason=values["reason"], actor=c.actor(),
                                        hospital_id=cs.hospital_id, **args)
    except DomainError as exc:
        field = exc.details.get("field") if isinstance(exc.details, dict) else None
        return await _form(c, kind, status=exc.status, error=refusal(c, exc), field=field)
    return c.render("schedule/change_preview.html", kind=kind, values=values, plan=result.plan, result=result, **ctx)


def _page(handler, kind: str):
    """``handler`` as a console page for one kind of change."""

    async def page(c: Console) -> Response:
        return await handler(c, kind)

    page.__name__ = f"{handler.__name__}_{kind}"
    return console_page("schedule.manage")(page)


def routes() -> list:
    out = []
    for kind in ("suspend", "move"):
        out += [
            Route(f"/c/{{city}}/sessions/{{id:int}}/{kind}", _page(change_form, kind), methods=["GET"]),
            Route(f"/c/{{city}}/sessions/{{id:int}}/{kind}/preview", _page(preview, kind), methods=["POST"]),
            Route(f"/c/{{city}}/sessions/{{id:int}}/{kind}/confirm", _page(confirm, kind), methods=["POST"]),
        ]
    return out
