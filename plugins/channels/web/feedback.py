"""After the visit: satisfaction survey, doctor review, complaints; and announcements and
knowledge articles (R9.2, R10.1, R10.2, R10.4)."""

from __future__ import annotations

from starlette.responses import Response

from guahao.core.catalogue import queries
from guahao.core.errors import DomainError
from guahao.core.feedback import complaints as cases
from guahao.core.feedback import content, reviews, surveys
from guahao.core.models import Booking

from .site import Page

SCORES = (5, 4, 3, 2, 1)
CATEGORY_NAMES = {
    "service": "Service attitude",
    "waiting": "Waiting time",
    "medical": "Medical care",
    "fees": "Fees",
    "environment": "Facilities and environment",
    "booking": "Booking and registration",
    "other": "Other",
}
COMPLAINT_STATUS = {"submitted": "Submitted", "replied": "Replied", "closed": "Closed"}


def _field(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    return str(details.get("field") or "form")


async def _visit(s, booking: Booking) -> dict:
    """What the page says about the visit: date, hospital, department, doctor."""
    doctor = await queries.get_doctor(s, booking.doctor_id)
    return {"ref": booking.id, "date": booking.session_date.isoformat(), "doctor_name": doctor["name"],
            "hospital_name": doctor["hospital_name"], "department_name": doctor["department_name"]}


async def _moderated(p: Page) -> bool:
    """Whether the city holds reviews for moderation (``web`` plugin setting ``moderate_reviews``)."""
    plugins = await p.rt.plugins.for_city(p.city)
    return bool(plugins.settings("web").get("moderate_reviews"))


async def survey(p: Page) -> Response:
    ref = p.request.path_params["ref"]
    values = {k: p.form.get(k, "") for k in ("overall", "waiting", "attitude", "comment")}
    async with p.rt.db.transaction() as s:
        visit = await _visit(s, await surveys.survey_target(s, member_id=p.member.id, booking_id=ref))
    if p.request.method == "GET":
        return p.render("survey.html", visit=visit, values=values, errors={}, options=SCORES)
    try:
        async with p.rt.db.transaction() as s:
            await surveys.submit_survey(s, member_id=p.member.id, booking_id=ref, **values)
    except DomainError as exc:
        return p.render("survey.html", status=exc.status, visit=visit, values=values,
                        errors={_field(exc): p.refusal(exc)}, options=SCORES)
    return p.render("thanks.html", message=p._("Thank you. Your answers help the hospital improve."))


async def review(p: Page) -> Response:
    ref = p.request.path_params["ref"]
    values = {k: p.form.get(k, "") for k in ("rating", "comment")}
    async with p.rt.db.transaction() as s:
        booking = await reviews.review_target(s, member_id=p.member.id, booking_id=ref)
        visit = await _visit(s, booking)
    if p.request.method == "GET":
        return p.render("review.html", visit=visit, values=values, errors={}, options=SCORES)
    moderated = await _moderated(p)
    try:
        async with p.rt.db.transaction() as s:
            await reviews.submit_review(s, member_id=p.member.id, booking_id=ref, moderated=moderated, **values)
    except DomainError as exc:
        return p.render("review.html", status=exc.status, visit=visit, values=values,
                        errors={_field(exc): p.refusal(exc)}, options=SCORES)
    message = ("Thank you. Your review will be shown after it has been checked." if moderated
               else "Thank you. Your review is now shown on the doctor's page.")
    return p.render("thanks.html", message=p._(message), doctor_id=booking.doctor_id)


async def complaint_list(p: Page) -> Response:
    async with p.rt.db.transaction() as s:
        items = await cases.list_complaints(s, p.member.id)
        names = {h["id"]: h["name"] for h in await queries.list_hospitals(s)}
    return p.render("complaints.html", items=items, names=names, categories=CATEGORY_NAMES,
                    statuses=COMPLAINT_STATUS, done=p.request.query_params.get("done") == "1")


async def complaint_new(p: Page) -> Response:
    values = {k: p.form.get(k, p.request.query_params.get(k, "")) for k in ("hospital_id", "category", "booking_id", "text")}
    async with p.rt.db.transaction() as s:
        hospitals = await queries.list_hospitals(s)
    if p.request.method == "GET":
        return p.render("complaint_new.html", hospitals=hospitals, values=values, errors={}, categories=CATEGORY_NAMES)
    try:
        hospital_id = int(values["hospital_id"] or 0)
    except ValueError:
        hospital_id = 0
    try:
        async with p.rt.db.transaction() as s:
            made = await cases.submit_complaint(
                s, member_id=p.member.id, hospital_id=hospital_id, category=values["category"],
                text=values["text"], booking_id=values["booking_id"].strip() or None,
            )
            complaint_id = made.id
    except DomainError as exc:
        return p.render("complaint_new.html", status=exc.status, hospitals=hospitals, values=values,
                        errors={_field(exc): p.refusal(exc)}, categories=CATEGORY_NAMES)
    return p.redirect(f"complaints/{complaint_id}?done=1")


async def complaint_detail(p: Page) -> Response:
    async with p.rt.db.transaction() as s:
        item = await cases.get_complaint(s, p.request.path_params["complaint_id"], member_id=p.member.id)
        hospital = await queries.get_hospital(s, item.hospital_id)
    return p.render("complaint.html", item=item, hospital=hospital, categories=CATEGORY_NAMES,
                    statuses=COMPLAINT_STATUS, local=lambda at: at.astimezone(p.city.tz).strftime("%Y-%m-%d %H:%M") if at else "",
                    done=p.request.query_params.get("done") == "1")


async def news(p: Page) -> Response:
    async with p.rt.db.transaction() as s:
        notices = await content.list_announcements(s)
        articles = await content.list_articles(s)
    return p.render("news.html", notices=notices, articles=articles,
                    day=lambda at: at.astimezone(p.city.tz).strftime("%Y-%m-%d"))


async def article(p: Page) -> Response:
    async with p.rt.db.transaction() as s:
        item = await content.get_article(s, p.request.path_params["article_id"])
    return p.render("article.html", item=item, day=item.published_at.astimezone(p.city.tz).strftime("%Y-%m-%d"))
