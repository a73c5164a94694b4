"""Hospitals → departments → doctors → a doctor's 14-day schedule (read-only pages).

On a kiosk bound to one hospital (``Page.hospital_scope``) the pages show that hospital only
and answer "not found" for another's.
"""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response

from guahao.core.catalogue import places, queries
from guahao.core.errors import NotFound
from guahao.core.feedback.reviews import doctor_rating
from guahao.core.web.pages import message_log_public
from guahao.tenants.clock import utcnow

from .site import Page
from .terminals import elsewhere

SCHEDULE_DAYS = 14
SEARCH_MAX = 40


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _query(p: Page) -> str:
    return (p.request.query_params.get("q") or "").strip()[:SEARCH_MAX]


def _wants_fragment(p: Page, target: str) -> bool:
    """An htmx request for one region of the page (search as you type): answer with that region
    alone. Everything else — no JavaScript, a boosted link, a history restore — gets the page."""
    headers = p.request.headers
    return (headers.get("HX-Request") == "true" and headers.get("HX-Target") == target
            and headers.get("HX-History-Restore-Request") != "true")


def _fragment(p: Page, template: str, **context):
    response = p.render(template, **context)
    response.headers["Vary"] = "HX-Request, HX-Target"
    return response


async def home(p: Page) -> Response:
    district = _int(p.request.query_params.get("district"))
    q = _query(p)
    scope = p.hospital_scope
    if q:
        await p.rate_limit("search_ip")
    async with p.rt.db.transaction() as s:
        districts = await queries.list_districts(s) if scope is None else []
        hospitals = await queries.list_hospitals(s, district_id=district if scope is None else None)
        doctors = await queries.list_doctors(s, q=q, hospital_id=scope, limit=50) if q else None
        public_log = await message_log_public(s)
    if scope is not None:
        hospitals = [h for h in hospitals if h["id"] == scope]
    if _wants_fragment(p, "doctor-search"):
        return _fragment(p, "_doctor_search.html", doctors=doctors, q=q)
    return p.render(
        "home.html",
        districts=districts,
        district=district,
        hospitals=hospitals,
        q=q,
        doctors=doctors,
        public_log=public_log,
        welcome=p.request.query_params.get("welcome") == "1",
    )


def _in_scope(p: Page, hospital_id: int) -> None:
    if p.hospital_scope is not None and hospital_id != p.hospital_scope:
        raise elsewhere()


async def hospital(p: Page) -> Response:
    hospital_id = p.request.path_params["hospital_id"]
    _in_scope(p, hospital_id)
    async with p.rt.db.transaction() as s:
        info = await queries.get_hospital(s, hospital_id)
        departments = await queries.list_departments(s, hospital_id)
    return p.render("hospital.html", hospital=info, departments=departments)


async def department(p: Page) -> Response:
    department_id = p.request.path_params["department_id"]
    q = _query(p)
    if q:
        await p.rate_limit("search_ip")
    async with p.rt.db.transaction() as s:
        first = await queries.list_doctors(s, department_id=department_id, limit=1)
        if not first:
            raise NotFound("科室")
        _in_scope(p, first[0]["hospital_id"])
        doctors = await queries.list_doctors(s, department_id=department_id, q=q or None)
        hospital = await queries.get_hospital(s, first[0]["hospital_id"])
    if _wants_fragment(p, "department-doctors"):
        return _fragment(p, "_department_doctors.html", doctors=doctors, q=q)
    return p.render("department.html", doctors=doctors, q=q, first=first[0], hospital=hospital,
                    department_id=department_id)


HALF_DAY_ORDER = {"am": 0, "pm": 1, "evening": 2}


def _with_suspended(sessions: list[dict], suspended: list[dict]) -> list[dict]:
    """The open sessions and the suspended ones (停诊: listed, nothing to book) in date order."""
    if not suspended:
        return sessions
    items = sessions + [{**cs, "suspended": True, "periods": []} for cs in suspended]
    return sorted(items, key=lambda item: (item["date"], HALF_DAY_ORDER.get(str(item["half_day"]), 3)))


async def doctor(p: Page) -> Response:
    doctor_id = p.request.path_params["doctor_id"]
    await p.rate_limit("search_ip")  # the doctor's availability
    today = utcnow().astimezone(p.city.tz).date()
    async with p.rt.db.transaction() as s:
        info = await queries.get_doctor(s, doctor_id)
        _in_scope(p, info["hospital_id"])
        last = today + timedelta(days=SCHEDULE_DAYS - 1)
        sessions = await queries.availability(s, doctor_id=doctor_id, date_from=today, date_to=last)
        suspended = await queries.suspended_sessions(s, doctor_id=doctor_id, date_from=today, date_to=last)
        rating = await doctor_rating(s, doctor_id)
        many_campuses = await places.campus_count(s, info["hospital_id"]) > 1
    for item in sessions:
        item["full"] = all(period["remaining"] == 0 for period in item["periods"])
    sessions = _with_suspended(sessions, suspended)
    return p.render("doctor.html", doctor=info, sessions=sessions, rating=rating, many_campuses=many_campuses,
                    day=lambda at: at.astimezone(p.city.tz).strftime("%Y-%m-%d"))
