"""Weekly schedule templates (出诊模板, R11.1) and generating sessions from them.

Schedulers keep one template per doctor, weekday and half-day; "generate" turns the active
templates of the hospital into sessions for a date range, skipping the holidays given and the
sessions that already exist, and reports what it created and skipped. A template of another
hospital is answered 404, by URL or by form field (doctor, campus, registration type).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.backoffice import templates as service
from guahao.core.backoffice.templates import MAX_DAYS, TemplateInput
from guahao.core.errors import DomainError, NotFound, ValidationFailed
from guahao.core.models import Campus, Doctor, HalfDay, Hospital, PoolKind, RegistrationType, ScheduleTemplate
from guahao.tenants.clock import utcnow

from ..kit.pages import Console, console_page
from .pick import WEEKDAYS, chosen_hospital, half_day_label, parse_date, refusal

FIELD_ERROR = "Please check this field."


async def _pickers(s, hospital: Hospital) -> dict:
    def of(model):
        return select(model).where(model.hospital_id == hospital.id)

    return {
        "doctors": list((await s.scalars(of(Doctor).where(Doctor.active.is_(True)).order_by(Doctor.name))).all()),
        "campuses": list((await s.scalars(of(Campus).order_by(Campus.id))).all()),
        "reg_types": list((await s.scalars(of(RegistrationType).order_by(RegistrationType.fee_fen.desc()))).all()),
    }


def _common(c: Console) -> dict:
    return {"weekdays": WEEKDAYS, "half_days": list(HalfDay.__members__), "pool_kinds": [k.value for k in PoolKind],
            "half_day": lambda v: half_day_label(c._, v)}


@console_page("schedule.manage")
async def template_list(c: Console) -> Response:
    async with c.transaction() as s:
        hospital, choices = await chosen_hospital(c, s)
        names = {}
        if hospital is not None:
            names = {d.id: d.name for d in (await s.scalars(select(Doctor).where(Doctor.hospital_id == hospital.id))).all()}
    rows = await service.list_templates(c.rt, hospital.id) if hospital is not None else []
    return c.render("schedule/templates.html", hospital=hospital, choices=choices, rows=rows, doctor_names=names,
                    **_common(c))


def _int(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 7 else None


def _input(c: Console) -> TemplateInput:
    """The posted template; malformed fields are refused with the field named."""
    f = c.form
    errors: dict[str, str] = {}
    pools = {}
    for kind in (k.value for k in PoolKind):
        raw = f.get(f"pool_{kind}", "").strip()
        if raw:
            value = _int(raw)
            if value is None:
                errors[f"pool_{kind}"] = FIELD_ERROR
            elif value:
                pools[kind] = value
    values = {
        "doctor_id": _int(f.get("doctor_id", "")), "campus_id": _int(f.get("campus_id", "")),
        "registration_type_id": _int(f.get("registration_type_id", "")), "weekday": _int(f.get("weekday", "")),
        "half_day": f.get("half_day", ""), "period_count": _int(f.get("period_count", "")), "pools": pools,
        "pool_release_hours_before": _int(f.get("pool_release_hours_before", "")),
        "valid_from": parse_date(f.get("valid_from")), "valid_until": parse_date(f.get("valid_until")),
    }
    for key in ("doctor_id", "campus_id", "registration_type_id", "weekday", "period_count", "valid_from"):
        if values[key] is None:
            errors[key] = FIELD_ERROR
    if f.get("pool_release_hours_before", "").strip() and values["pool_release_hours_before"] is None:
        errors["pool_release_hours_before"] = FIELD_ERROR
    if f.get("valid_until", "").strip() and values["valid_until"] is None:
        errors["valid_until"] = FIELD_ERROR
    if not errors:
        try:
            return TemplateInput(**values)
        except ValidationError as exc:
            errors.update({str(e["loc"][0]): FIELD_ERROR for e in exc.errors() if e.get("loc")})
    raise ValidationFailed("invalid_input", "请检查标出的栏目。", details=errors)


async def _scoped_template(c: Console, s) -> ScheduleTemplate:
    template = await s.get(ScheduleTemplate, c.request.path_params["id"])
    if template is None:
        raise NotFound("template")
    await c.check_hospital(s, template.hospital_id)
    return template


async def _form(c: Console, hospital: Hospital, template: ScheduleTemplate | None, values: dict, *,
                status: int = 200, error: str | None = None, fields: dict | None = None) -> Response:
    async with c.transaction() as s:
        pickers = await _pickers(s, hospital)
    return c.render("schedule/template_form.html", status=status, hospital=hospital, tpl=template,
                    values=values, error=error, fields=fields or {}, **pickers, **_common(c))


def _values_of(t: ScheduleTemplate) -> dict:
    out = {k: getattr(t, k) for k in ("doctor_id", "campus_id", "registration_type_id", "weekday", "half_day",
                                       "period_count", "pool_release_hours_before", "valid_from", "valid_until")}
    out.update({f"pool_{k}": v for k, v in (t.pools or {}).items()})
    return {k: ("" if v is None else str(v)) for k, v in out.items()}


def _refused(c: Console, exc: DomainError) -> tuple[str, dict]:
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code == "invalid_input" and "field" not in details:
        return refusal(c, exc), {k: c._(v) for k, v in details.items()}
    field = details.get("field")
    return refusal(c, exc), ({field: refusal(c, exc)} if field else {})


@console_page("schedule.manage")
async def template_new(c: Console) -> Response:
    async with c.transaction() as s:
        hospital, _ = await chosen_hospital(c, s)
    if hospital is None:
        raise NotFound("hospital", code="hospital_not_found")
    if c.request.method == "GET":
        today = utcnow().astimezone(c.city.tz).date()
        return await _form(c, hospital, None, {"valid_from": today.isoformat(), "period_count": "8", "pool_public": "4",
                                               "half_day": "am", "weekday": "0"})
    try:
        data = _input(c)
        await service.create_template(c.rt, hospital.id, data, actor=c.actor())
    except DomainError as exc:
        error, fields = _refused(c, exc)
        return await _form(c, hospital, None, c.form, status=exc.status, error=error, fields=fields)
    return c.redirect(f"templates?hospital={hospital.id}", flash=c._("Template saved."))


@console_page("schedule.manage")
async def template_edit(c: Console) -> Response:
    async with c.transaction() as s:
        template = await _scoped_template(c, s)
        hospital = await s.get(Hospital, template.hospital_id)
    if c.request.method == "GET":
        return await _form(c, hospital, template, _values_of(template))
    try:
        data = _input(c)
        await service.update_template(c.rt, template.id, data, actor=c.actor(), hospital_id=hospital.id)
    except DomainError as exc:
        error, fields = _refused(c, exc)
        return await _form(c, hospital, template, c.form, status=exc.status, error=error, fields=fields)
    return c.redirect(f"templates?hospital={hospital.id}", flash=c._("Template saved."))


@console_page("schedule.manage")
async def template_active(c: Console) -> Response:
    async with c.transaction() as s:
        template = await _scoped_template(c, s)
    active = c.form.get("active") == "1"
    try:
        await service.set_template_active(c.rt, template.id, active, actor=c.actor(), hospital_id=template.hospital_id)
    except DomainError as exc:
        return c.render("error.html", status=exc.status, code=exc.code, message=refusal(c, exc))
    return c.redirect(f"templates?hospital={template.hospital_id}#template-{template.id}",
                      flash=c._("Template activated.") if active else c._("Template deactivated."))


HOLIDAY_SPLIT = re.compile(r"[\s,，;；、]+")


def _holidays(text: str) -> tuple[list[date], list[str]]:
    days, bad = [], []
    for token in HOLIDAY_SPLIT.split(text or ""):
        day = parse_date(token) if token else None
        if day is not None:
            days.append(day)
        elif token:
            bad.append(token)
    return days, bad


@console_page("schedule.manage")
async def generate(c: Console) -> Response:
    today = utcnow().astimezone(c.city.tz).date()
    async with c.transaction() as s:
        hospital, choices = await chosen_hospital(c, s)
    values = {"from": (today + timedelta(days=1)).isoformat(), "to": (today + timedelta(days=28)).isoformat(),
              "holidays": ""}
    result, error, status = None, None, 200
    if c.request.method == "POST":
        if hospital is None:
            raise NotFound("hospital", code="hospital_not_found")
        values = {k: c.form.get(k, "").strip()[:2000] for k in values}
        date_from, date_to = parse_date(values["from"]), parse_date(values["to"])
        holidays, bad = _holidays(values["holidays"])
        if date_from is None or date_to is None:
            error, status = c._("Choose the first and last date."), 422
        elif bad:
            error, status = c._("Not a date: %(text)s (write dates as 2025-10-01).", text="、".join(bad[:5])), 422
        else:
            try:
                result = await service.generate_sessions(c.rt, hospital.id, date_from, date_to, actor=c.actor(),
                                                         holidays=holidays)
            except DomainError as exc:
                error, status = refusal(c, exc), exc.status
    return c.render("schedule/generate.html", status=status, hospital=hospital, choices=choices, values=values,
                    result=result, error=error, max_days=MAX_DAYS)


def routes() -> list:
    return [
        Route("/c/{city}/templates", template_list, methods=["GET"]),
        Route("/c/{city}/templates/new", template_new, methods=["GET", "POST"]),
        Route("/c/{city}/templates/generate", generate, methods=["GET", "POST"]),
        Route("/c/{city}/templates/{id:int}", template_edit, methods=["GET", "POST"]),
        Route("/c/{city}/templates/{id:int}/active", template_active, methods=["POST"]),
    ]
