"""Broadcasts (群发, R9.3): a city or hospital administrator sends a notice — a doctor's absence,
a holiday schedule — to everyone booked in a session, a department or a hospital on a day, by
SMS, WeChat, e-mail and voice call.

Compose (hospital and day, then the audience, the text and the channels) → preview (how many
members, how many each channel reaches, how many opted out) → send (a CSRF form carrying a
one-time key: a second submit shows the broadcast already sent) → the broadcast's page with
each recipient's status per channel. A hospital's administrator works within its own hospital
only; another hospital's id answers 404. The work is done by ``core.broadcasts``.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response
from starlette.routing import Route

from guahao.core import broadcasts as service
from guahao.core.backoffice.scope import mask_phone
from guahao.core.broadcasts.sending import sendable_channels
from guahao.core.errors import DomainError, NotFound
from guahao.core.models import Booking, ClinicSession, Department, Doctor
from guahao.tenants.clock import utcnow

from ..kit.pages import Console, console_page
from .pick import chosen_hospital, half_day_label, parse_date, refusal

CAPABILITY = "broadcasts.send"
CHANNEL_LABELS = {"sms": "SMS", "wechat": "WeChat", "email": "E-mail", "voice": "Voice call"}
STATUS_LABELS = {"pending": "Pending", "sent": "Sent", "failed": "Failed", "skipped": "Skipped"}
SCOPE_LABELS = {"session": "One session", "department": "A department on a day", "hospital": "A hospital on a day"}


def _values(c: Console) -> dict:
    """The compose form's fields as posted (or given in the query), for re-rendering and re-posting."""
    get = c.request.query_params
    return {
        "day": (c.form.get("day") or get.get("day") or "").strip()[:10],
        "audience": (c.form.get("audience") or get.get("audience") or "").strip()[:30],
        "text": c.form.get("text", "")[:service.TEXT_MAX * 2],
        "channels": [ch for ch in c.form_lists.get("channels", []) if ch in service.CHANNELS],
    }


def _audience(hospital_id: int, values: dict) -> service.Audience:
    """``hospital``, ``department:ID`` or ``session:ID`` as an audience of the hospital."""
    kind, _, raw = values["audience"].partition(":")
    ident = int(raw) if raw.isdigit() and len(raw) < 10 else None
    day = parse_date(values["day"])
    if kind == "session":
        return service.Audience("session", hospital_id, session_id=ident or -1)
    if kind == "department":
        return service.Audience("department", hospital_id, day=day, department_id=ident or -1)
    return service.Audience(kind if kind == "hospital" else "", hospital_id, day=day)


async def _day_sessions(s: AsyncSession, hospital_id: int, day: date) -> list[dict]:
    """The hospital's sessions of the day with their doctor, department and active bookings."""
    booked = (select(Booking.session_id, func.count().label("n")).where(Booking.status.in_(service.BOOKED))
              .group_by(Booking.session_id).subquery())
    rows = (await s.execute(
        select(ClinicSession, Doctor.name, Department.id, Department.name, func.coalesce(booked.c.n, 0))
        .join(Doctor, Doctor.id == ClinicSession.doctor_id)
        .join(Department, Department.id == ClinicSession.department_id)
        .outerjoin(booked, booked.c.session_id == ClinicSession.id)
        .where(ClinicSession.hospital_id == hospital_id, ClinicSession.date == day)
        .order_by(Department.name, ClinicSession.half_day, Doctor.name))).all()
    return [{"id": cs.id, "doctor": doctor, "department_id": dept_id, "department": dept, "half_day": cs.half_day,
             "status": str(cs.status), "booked": n} for cs, doctor, dept_id, dept, n in rows]


async def _compose(c: Console, *, status: int = 200, error: str | None = None, field: str | None = None) -> Response:
    values = _values(c)
    today = utcnow().astimezone(c.city.tz).date()
    day = parse_date(values["day"]) or today + timedelta(days=1)
    values["day"] = day.isoformat()
    async with c.transaction() as s:
        hospital, choices = await chosen_hospital(c, s)
        sessions = await _day_sessions(s, hospital.id, day) if hospital is not None else []
    departments: dict[int, dict] = {}
    for row in sessions:
        d = departments.setdefault(row["department_id"], {"id": row["department_id"], "name": row["department"],
                                                          "booked": 0})
        d["booked"] += row["booked"]
    available = sendable_channels(await c.rt.plugins.for_city(c.city))
    return c.render("broadcasts/compose.html", status=status, hospital=hospital, choices=choices, values=values,
                    sessions=sessions, departments=list(departments.values()), error=error, field=field,
                    channels=service.CHANNELS, channel_labels=CHANNEL_LABELS, available=available,
                    half_day=lambda v: half_day_label(c._, v), text_max=service.TEXT_MAX,
                    segment=service.SMS_SEGMENT)


@console_page(CAPABILITY)
async def compose(c: Console) -> Response:
    return await _compose(c)


async def _prepare(c: Console) -> tuple[service.Audience, dict]:
    values = _values(c)
    async with c.transaction() as s:
        hospital, _ = await chosen_hospital(c, s)
    if hospital is None:
        raise NotFound("hospital", code="hospital_not_found")
    return _audience(hospital.id, values), values


def _field(exc: DomainError) -> str | None:
    return exc.details.get("field") if isinstance(exc.details, dict) else None


@console_page(CAPABILITY)
async def preview(c: Console) -> Response:
    audience, values = await _prepare(c)
    try:
        async with c.transaction() as s:
            p = await service.preview(s, c.city, await c.rt.plugins.for_city(c.city), audience, values["text"],
                                      values["channels"], await c.hospital_scope(s))
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await _compose(c, status=exc.status, error=refusal(c, exc), field=_field(exc))
    return c.render("broadcasts/preview.html", p=p, values=values, hospital=p.resolved.hospital,
                    request_key=secrets.token_urlsafe(24), channel_labels=CHANNEL_LABELS)


@console_page(CAPABILITY)
async def send(c: Console) -> Response:
    audience, values = await _prepare(c)
    async with c.transaction() as s:
        scope = await c.hospital_scope(s)
    try:
        b, sent = await service.send(c.rt, c.city, await c.rt.plugins.for_city(c.city), c.actor(), audience,
                                     values["text"], values["channels"], c.form.get("request_key", ""), scope)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await _compose(c, status=exc.status, error=refusal(c, exc), field=_field(exc))
    flash = (c._("The notice is on its way to %(n)s members.", n=b.members) if sent
             else c._("This notice was sent already; nothing was sent again."))
    return c.redirect(f"broadcasts/{b.id}", flash=flash)


@console_page(CAPABILITY)
async def detail(c: Console) -> Response:
    async with c.transaction() as s:
        st = await service.status(s, int(c.request.path_params["id"]), await c.hospital_scope(s))
    return c.render("broadcasts/detail.html", st=st, b=st.broadcast, tz=c.city.tz, mask_phone=mask_phone,
                    channel_labels=CHANNEL_LABELS, status_labels=STATUS_LABELS, groups=service.GROUPS,
                    status_groups=service.STATUS_GROUPS, scope_labels=SCOPE_LABELS)


@console_page(CAPABILITY)
async def history(c: Console) -> Response:
    async with c.transaction() as s:
        rows = await service.history(s, await c.hospital_scope(s))
    return c.render("broadcasts/list.html", rows=rows, tz=c.city.tz, channel_labels=CHANNEL_LABELS,
                    groups=service.GROUPS, status_labels=STATUS_LABELS)


def routes() -> list:
    return [
        Route("/c/{city}/broadcasts", history, methods=["GET"]),
        Route("/c/{city}/broadcasts/new", compose, methods=["GET", "POST"]),
        Route("/c/{city}/broadcasts/preview", preview, methods=["POST"]),
        Route("/c/{city}/broadcasts/send", send, methods=["POST"]),
        Route("/c/{city}/broadcasts/{id:int}", detail, methods=["GET"]),
    ]
