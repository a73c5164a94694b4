"""My account: name, masked ID number, phone; e-mail and message opt-out (R1.5, R9.3);
and the visits waiting for a survey or a doctor review."""

from __future__ import annotations

from starlette.responses import Response

from guahao.core.errors import DomainError
from guahao.core.feedback import reviews, surveys
from guahao.core.members import service

from .site import Page


async def profile(p: Page) -> Response:
    errors: dict[str, str] = {}
    saved = p.request.query_params.get("saved") == "1"
    values = {"email": p.member.email or "", "opt_out": p.member.notifications_opt_out}
    status = 200
    if p.request.method == "POST":
        values = {"email": p.form.get("email", "").strip(), "opt_out": p.form.get("opt_out") == "1"}
        try:
            async with p.rt.db.transaction() as s:
                await service.update_contacts(s, p.member.id, email=values["email"],
                                              notifications_opt_out=values["opt_out"])
            return p.redirect("profile?saved=1")
        except DomainError as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            errors[str(details.get("field") or "form")] = p.refusal(exc)
            status = exc.status
    async with p.rt.db.transaction() as s:
        to_survey = await surveys.open_surveys(s, p.member.id)
        to_review = await reviews.reviewable_bookings(s, p.member.id)
    surveyable, reviewable = {b.id for b in to_survey}, {b.id for b in to_review}
    bookings = {b.id: b for b in [*to_survey, *to_review]}
    visits = [
        {"ref": b.id, "date": b.session_date.isoformat(), "survey": b.id in surveyable, "review": b.id in reviewable}
        for b in sorted(bookings.values(), key=lambda b: b.starts_at, reverse=True)
    ]
    return p.render("profile.html", status=status, values=values, errors=errors, saved=saved, visits=visits)
