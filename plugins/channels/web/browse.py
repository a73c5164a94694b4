"""Hospitals → departments → doctors → a doctor's 14-day schedule (read-only pages)."""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response

from core.catalogue import queries
from core.errors import NotFound
from core.feedback.reviews import doctor_rating
from core.web.pages import message_log_public
from tenants.clock import utcnow

from .site import Page

SCHEDULE_DAYS = 14
SEARCH_MAX = 40


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _query(p: Page) -> str:
    return (p.request.query_params.get("q") or "").strip()[:SEARCH_MAX]


async def home(p: Page) -> Response:
    district = _int(p.request.query_params.get("district"))
    q = _query(p)
    async with p.rt.db.transaction() as s:
        districts = await queries.list_districts(s)
        hospitals = await queries.list_hospitals(s, district_id=district)
        doctors = await queries.list_doctors(s, q=q, limit=50) if q else None
        public_log = await message_log_public(s)
    return p.render("home.html", districts=districts, district=district, hospitals=hospitals, q=q, doctors=doctors, public_log=public_log,
                    welcome=p.request.query_params.get("welcome") == "1")


async def hospital(p: Page) -> Response:
    hospital_id = p.request.path_params["hospital_id"]
    async with p.rt.db.transaction() as s:
        info = await queries.get_hospital(s, hospital_id)
        departments = await queries.list_departments(s, hospital_id)
    return p.render("hospital.html", hospital=info, departments=departments)


async def department(p: Page) -> Response:
    department_id = p.request.path_params["department_id"]
    q = _query(p)
    async with p.rt.db.transaction() as s:
        first = await queries.list_doctors(s, department_id=department_id, limit=1)
        if not first:
            raise NotFound("科室")
        doctors = await queries.list_doctors(s, department_id=department_id, q=q or None)
        hospital = await queries.get_hospital(s, first[0]["hospital_id"])
    return p.render("department.html", doctors=doctors, q=q, first=first[0], hospital=hospital,
                    department_id=department_id)


async def doctor(p: Page) -> Response:
    doctor_id = p.request.path_params["doctor_id"]
    today = utcnow().astimezone(p.city.tz).date()
    async with p.rt.db.transaction() as s:
        info = await queries.get_doctor(s, doctor_id)
        sessions = await queries.availability(
            s, doctor_id=doctor_id, date_from=today, date_to=today + timedelta(days=SCHEDULE_DAYS - 1)
        )
        rating = await doctor_rating(s, doctor_id)
    for item in sessions:
        item["full"] = all(period["remaining"] == 0 for period in item["periods"])
    return p.render("doctor.html", doctor=info, sessions=sessions, rating=rating,
                    day=lambda at: at.astimezone(p.city.tz).strftime("%Y-%m-%d"))
