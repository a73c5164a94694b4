"""Hospital catalogue pages (R11.1, R12.1): hospitals, and per hospital its campuses,
departments and doctors (added, edited; doctors activated/deactivated) and registration types
with fees (yuan in the form, fen stored).

A city administrator sees and edits every hospital and creates new ones; a hospital
administrator sees only their own (another hospital is 404) and manages what is inside it.
The rules (unique codes, fees) are ``core.catalogue.manage``'s; these pages only call it.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.catalogue import manage
from guahao.core.catalogue.queries import KIND_NAMES, TITLE_NAMES
from guahao.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from guahao.core.models import Campus, Department, District, Doctor, Hospital, RegistrationType

from ..kit.pages import Console, console_page

FIELD_ERRORS = {
    "required": "Required.",
    "taken": "Already in use.",
    "not_found": "Not found in this city.",
    "too_long": "Too long.",
    "bad_code": "Letters, digits, '.', '-' and '_' only.",
    "bad_department_code": "A code of the national list of clinical subjects, e.g. 03 or 03.01.",
    "bad_choice": "Choose one of the options.",
    "bad_fee": "An amount in yuan with at most two decimals, e.g. 25 or 25.50.",
    "bad_photo_url": "An https:// address of the photo, or a /static/… path.",
}


def _field_errors(c: Console, exc: DomainError) -> dict[str, str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    return {k: c._(FIELD_ERRORS.get(str(v), str(v))) for k, v in details.items()}


async def _city_wide(c: Console, s) -> None:
    """Creating and editing hospitals is for the city's administrators (and the vendor)."""
    if await c.hospital_scope(s) is not None:
        raise Forbidden("forbidden", "只有城市管理员可以新增或修改医院 / only city administrators edit hospitals")


async def _scope(c: Console, s) -> int | None:
    scope = await c.hospital_scope(s)
    return next(iter(scope), -1) if scope is not None else None


@console_page("hospital.manage")
async def hospitals(c: Console) -> Response:
    async with c.transaction() as s:
        scope = await c.hospital_scope(s)
        q = select(Hospital).order_by(Hospital.code)
        if scope is not None:
            q = q.where(Hospital.id.in_(scope or {-1}))
        rows = list((await s.scalars(q)).all())
        districts = {d.id: d.name for d in (await s.scalars(select(District))).all()}
    return c.render("catalogue/hospitals.html", rows=rows, districts=districts, city_wide=scope is None,
                    kinds=KIND_NAMES)


async def _hospital_form(c: Console, s, hospital, values: dict, errors: dict, error: str | None = None,
                         status: int = 200) -> Response:
    districts = list((await s.scalars(select(District).order_by(District.code))).all())
    return c.render("catalogue/hospital_form.html", status=status, hospital=hospital, values=values, errors=errors,
                    error=error, districts=districts, kinds=KIND_NAMES)


@console_page("hospital.manage")
async def hospital_new(c: Console) -> Response:
    async with c.transaction() as s:
        await _city_wide(c, s)
        if c.request.method == "GET":
            return await _hospital_form(c, s, None, {}, {})
    try:
        async with c.transaction() as s:
            hospital = await manage.create_hospital(s, c.actor(), c.form)
    except (ValidationFailed, Conflict) as exc:
        async with c.transaction() as s:
            return await _hospital_form(c, s, None, c.form, _field_errors(c, exc), c.refusal(exc), exc.status)
    return c.redirect(f"catalogue/{hospital.id}", flash=c._("Hospital %(name)s created.", name=hospital.name))


@console_page("hospital.manage")
async def hospital_edit(c: Console) -> Response:
    hospital_id = c.request.path_params["id"]
    async with c.transaction() as s:
        hospital = await c.check_hospital(s, hospital_id)
        await _city_wide(c, s)
        if c.request.method == "GET":
            values = {f: getattr(hospital, f) for f in manage.HOSPITAL_FIELDS}
            return await _hospital_form(c, s, hospital, values, {})
    try:
        async with c.transaction() as s:
            await manage.update_hospital(s, c.actor(), hospital_id, c.form)
    except (ValidationFailed, Conflict) as exc:
        async with c.transaction() as s:
            hospital = await c.check_hospital(s, hospital_id)
            return await _hospital_form(c, s, hospital, c.form, _field_errors(c, exc), c.refusal(exc), exc.status)
    return c.redirect(f"catalogue/{hospital_id}", flash=c._("Saved."))


async def _hospital_page(c: Console, hospital_id: int, *, form: str = "", errors: dict | None = None,
                         error: str | None = None, status: int = 200) -> Response:
    async with c.transaction() as s:
        hospital = await c.check_hospital(s, hospital_id)
        city_wide = await c.hospital_scope(s) is None
        campuses = (await s.scalars(select(Campus).where(Campus.hospital_id == hospital.id).order_by(Campus.id))).all()
        departments = (await s.scalars(
            select(Department).where(Department.hospital_id == hospital.id).order_by(Department.code))).all()
        doctors = (await s.scalars(
            select(Doctor).where(Doctor.hospital_id == hospital.id).order_by(Doctor.department_id, Doctor.name))).all()
        types = (await s.scalars(select(RegistrationType).where(RegistrationType.hospital_id == hospital.id)
                                 .order_by(RegistrationType.fee_fen.desc()))).all()
    return c.render("catalogue/hospital.html", status=status, hospital=hospital, campuses=campuses,
                    departments=departments, department_names={d.id: d.name for d in departments}, doctors=doctors,
                    types=types, titles=TITLE_NAMES, kinds=KIND_NAMES, city_wide=city_wide, form=form,
                    errors=errors or {}, error=error, values=c.form)


@console_page("hospital.manage")
async def hospital_page(c: Console) -> Response:
    return await _hospital_page(c, c.request.path_params["id"])


def _adder(kind: str, service, flash: str):
    """A POST handler adding one ``kind`` of row to the hospital through ``service``."""

    @console_page("hospital.manage")
    async def handler(c: Console) -> Response:
        hospital_id = c.request.path_params["id"]
        try:
            async with c.transaction() as s:
                hospital = await c.check_hospital(s, hospital_id)
                await service(s, c.actor(), hospital.id, c.form, scope=await _scope(c, s))
        except (ValidationFailed, Conflict) as exc:
            return await _hospital_page(c, hospital_id, form=kind, errors=_field_errors(c, exc), error=c.refusal(exc),
                                        status=exc.status)
        return c.redirect(f"catalogue/{hospital_id}#{kind}", flash=c._(flash))

    return handler


add_campus = _adder("campuses", manage.add_campus, "Campus added.")
add_department = _adder("departments", manage.add_department, "Department added.")
add_doctor = _adder("doctors", manage.add_doctor, "Doctor added.")
save_fee = _adder("fees", manage.save_registration_type, "Registration type saved.")


# Each editor: (model, service of core.catalogue.manage, the fields of its form, the message after saving)
EDITORS = {
    "campuses": (Campus, manage.update_campus, manage.CAMPUS_FIELDS, "Campus saved."),
    "departments": (Department, manage.update_department, manage.DEPARTMENT_FIELDS, "Department saved."),
    "doctors": (Doctor, manage.update_doctor, manage.DOCTOR_FIELDS, "Doctor saved."),
}


def _editor(kind: str):
    """GET: the form of one campus, department or doctor of the hospital; POST: save it (errors
    field by field, the typed values kept). Another hospital's row is 404."""
    model, service, fields, flash = EDITORS[kind]

    async def _form(c: Console, s, hospital, row, values: dict, errors: dict, error: str | None = None,
                    status: int = 200) -> Response:
        departments = (await s.scalars(
            select(Department).where(Department.hospital_id == hospital.id).order_by(Department.code))).all()
        return c.render(f"catalogue/edit_{kind}.html", status=status, hospital=hospital, row=row, values=values,
                        errors=errors, error=error, departments=departments, titles=TITLE_NAMES)

    @console_page("hospital.manage")
    async def handler(c: Console) -> Response:
        hospital_id, row_id = c.request.path_params["id"], c.request.path_params["row_id"]
        async with c.transaction() as s:
            hospital = await c.check_hospital(s, hospital_id)
            row = await s.get(model, row_id)
            if row is None or row.hospital_id != hospital.id:
                raise NotFound(kind[:-1], code=f"{kind[:-1]}_not_found")
            if c.request.method == "GET":
                values = {f: (str(v) if hasattr(v, "value") else v) for f in fields for v in [getattr(row, f)]}
                return await _form(c, s, hospital, row, values, {})
        try:
            async with c.transaction() as s:
                await service(s, c.actor(), hospital_id, row_id, c.form, scope=await _scope(c, s))
        except (ValidationFailed, Conflict) as exc:
            async with c.transaction() as s:
                hospital = await c.check_hospital(s, hospital_id)
                return await _form(c, s, hospital, await s.get(model, row_id), c.form, _field_errors(c, exc),
                                   c.refusal(exc), exc.status)
        return c.redirect(f"catalogue/{hospital_id}#{kind[:-1]}-{row_id}", flash=c._(flash))

    return handler


@console_page("hospital.manage")
async def doctor_active(c: Console) -> Response:
    hospital_id, doctor_id = c.request.path_params["id"], c.request.path_params["doctor_id"]
    active = c.form.get("active") == "1"
    async with c.transaction() as s:
        hospital = await c.check_hospital(s, hospital_id)
        scope = await _scope(c, s)
        await manage.set_doctor_active(s, c.actor(), doctor_id, active, scope=scope if scope is not None else hospital.id,
                                       reason=c.form.get("reason", "")[:200])
    return c.redirect(f"catalogue/{hospital_id}#doctors",
                      flash=c._("Doctor activated.") if active else c._("Doctor deactivated."))


def routes() -> list:
    return [
        Route("/c/{city}/catalogue", hospitals, methods=["GET"]),
        Route("/c/{city}/catalogue/new", hospital_new, methods=["GET", "POST"]),
        Route("/c/{city}/catalogue/{id:int}", hospital_page, methods=["GET"]),
        Route("/c/{city}/catalogue/{id:int}/edit", hospital_edit, methods=["GET", "POST"]),
        Route("/c/{city}/catalogue/{id:int}/campuses", add_campus, methods=["POST"]),
        Route("/c/{city}/catalogue/{id:int}/departments", add_department, methods=["POST"]),
        Route("/c/{city}/catalogue/{id:int}/doctors", add_doctor, methods=["POST"]),
        Route("/c/{city}/catalogue/{id:int}/fees", save_fee, methods=["POST"]),
        Route("/c/{city}/catalogue/{id:int}/doctors/{doctor_id:int}/active", doctor_active, methods=["POST"]),
        *[Route(f"/c/{{city}}/catalogue/{{id:int}}/{kind}/{{row_id:int}}/edit", _editor(kind), methods=["GET", "POST"])
          for kind in EDITORS],
    ]
