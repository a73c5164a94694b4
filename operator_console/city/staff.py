"""Staff accounts of a city: list, create, edit, reset password, unlock, end sessions, (de)activate.

City administrators (and the vendor) manage every role of the city; a hospital administrator
manages the schedulers and doctors of its own hospital only. An account or hospital outside
the principal's reach is answered 404 whether it is reached by link, URL or form field.
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.errors import Conflict, DomainError, Forbidden, ValidationFailed
from guahao.core.models import District, Doctor, Hospital
from guahao.core.models.staff import HOSPITAL_ROLES, StaffAccount, StaffRole
from guahao.core.staff import accounts
from guahao.core.staff.auth import is_locked, locked_addresses, reset_totp

from ..kit import access
from ..kit.pages import Console, console_page

FIELD_ERRORS = {
    "required": "Required.",
    "invalid_username": "3–64 lower-case letters, digits, '.', '_' or '-'.",
    "taken": "Already in use.",
    "not_found": "Not found in this city.",
    "not_community": "A referral clerk belongs to a community health centre.",
    "other_hospital": "This doctor works at another hospital.",
    "invalid_role": "Choose a role.",
    "weak_password": "At least 10 characters, with letters and digits.",
}


async def _pickers(c: Console, s) -> dict:
    """Hospitals, doctors and districts the principal may assign."""
    scope = await c.hospital_scope(s)
    q = select(Hospital).order_by(Hospital.code)
    if scope is not None:
        q = q.where(Hospital.id.in_(scope or {-1}))
    hospitals = list((await s.scalars(q)).all())
    ids = [h.id for h in hospitals]
    doctors = list(
        (
            await s.scalars(
                select(Doctor)
                .where(Doctor.hospital_id.in_(ids or [-1]), Doctor.active.is_(True))
                .order_by(Doctor.hospital_id, Doctor.name)
            )
        ).all()
    )
    districts = list((await s.scalars(select(District).order_by(District.code))).all())
    return {
        "hospitals": hospitals,
        "doctors": doctors,
        "districts": districts,
        "roles": access.manageable_roles(c.principal),
        "hospital_roles": sorted(r.value for r in HOSPITAL_ROLES),
    }


def _field_errors(c: Console, exc: DomainError) -> dict[str, str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    return {k: c._(FIELD_ERRORS.get(str(v), str(v))) for k, v in details.items()}


async def _checked_values(c: Console, s) -> dict:
    """The posted scope, refused (403/404) when the principal may not assign it."""
    role = c.form.get("role", "")
    if role not in access.manageable_roles(c.principal):
        raise Forbidden("forbidden", "您无权分配此角色 / you may not assign this role", details={"role": role})
    hospital_id = c.int_field("hospital_id") if role in HOSPITAL_ROLES else None
    if hospital_id is not None:
        await c.check_hospital(s, hospital_id)
    elif c.principal.role == StaffRole.hospital_admin:
        hospital_id = c.principal.hospital_id
    district_ids = [int(d) for d in c.form_lists.get("district_ids", []) if d.isdigit()]
    return {
        "display_name": c.form.get("display_name", ""),
        "phone": c.form.get("phone", ""),
        "email": c.form.get("email", ""),
        "role": role,
        "hospital_id": hospital_id,
        "doctor_id": c.int_field("doctor_id") if role == StaffRole.doctor else None,
        "district_ids": district_ids,
        "sso_subject": c.form.get("sso_subject", ""),
    }


@console_page("staff.manage")
async def staff_list(c: Console) -> Response:
    text = c.request.query_params.get("q", "").strip()[:60]
    async with c.transaction() as s:
        scope = await c.hospital_scope(s) if c.principal.role == StaffRole.hospital_admin else None
        rows = await accounts.list_staff(s, hospital_ids=scope, roles=set(access.manageable_roles(c.principal)),
                                         text=text or None)
        hospitals = {h.id: h.short_name or h.name for h in (await s.scalars(select(Hospital))).all()}
    return c.render("staff/list.html", rows=rows, q=text, hospitals=hospitals,
                    locked=is_locked)


@console_page("staff.manage")
async def staff_new(c: Console) -> Response:
    if c.request.method == "GET":
        async with c.transaction() as s:
            pickers = await _pickers(c, s)
        return c.render("staff/form.html", account=None, values={}, errors={}, **pickers)
    values: dict = {}
    try:
        async with c.transaction() as s:
            values = await _checked_values(c, s)
            account = await accounts.create_staff(
                s, c.actor(), username=c.form.get("username", ""), password=c.form.get("password") or None,
                **values,
            )
    except (ValidationFailed, Conflict) as exc:
        async with c.transaction() as s:
            pickers = await _pickers(c, s)
        return c.render("staff/form.html", status=exc.status, account=None, values=c.form,
                        selected_districts=values.get("district_ids", []), errors=_field_errors(c, exc),
                        error=c.refusal(exc), **pickers)
    return c.redirect(f"staff/{account.id}", flash=c._("Account %(name)s created.", name=account.username))


async def _managed(c: Console, s, account_id: int) -> StaffAccount:
    account = await accounts.get_staff(s, account_id)
    return access.check_account(c.principal, account)


@console_page("staff.manage")
async def staff_edit(c: Console) -> Response:
    account_id = c.request.path_params["id"]
    if c.request.method == "GET":
        async with c.transaction() as s:
            account = await _managed(c, s, account_id)
            pickers = await _pickers(c, s)
            paused = await locked_addresses(s, account)
        return c.render("staff/form.html", account=account, values=accounts.snapshot(account),
                        selected_districts=account.district_ids, errors={}, locked=is_locked(account) or paused > 0,
                        locked_addresses=paused, **pickers)
    values: dict = {}
    try:
        async with c.transaction() as s:
            account = await _managed(c, s, account_id)
            values = await _checked_values(c, s)
            await accounts.update_staff(s, c.actor(), account.id, **values)
    except (ValidationFailed, Conflict) as exc:
        async with c.transaction() as s:
            account = await _managed(c, s, account_id)
            pickers = await _pickers(c, s)
        return c.render("staff/form.html", status=exc.status, account=account, values=c.form,
                        selected_districts=values.get("district_ids", []), errors=_field_errors(c, exc),
                        error=c.refusal(exc), locked=is_locked(account), **pickers)
    return c.redirect(f"staff/{account_id}", flash=c._("Saved."))


async def _action(c: Console, flash: str, fn) -> Response:
    account_id = c.request.path_params["id"]
    async with c.transaction() as s:
        account = await _managed(c, s, account_id)
        await fn(s, account)
    return c.redirect(f"staff/{account_id}", flash=flash)


@console_page("staff.manage")
async def staff_password(c: Console) -> Response:
    password = c.form.get("password", "")
    return await _action(c, c._("The password has been reset."),
                         lambda s, a: accounts.set_password(s, c.actor(), a.id, password))


@console_page("staff.manage")
async def staff_unlock(c: Console) -> Response:
    return await _action(c, c._("The account is unlocked."), lambda s, a: accounts.unlock(s, c.actor(), a.id))


@console_page("staff.manage")
async def staff_end_sessions(c: Console) -> Response:
    return await _action(c, c._("Every session of this account has ended: its next request asks for a log-in."),
                         lambda s, a: accounts.end_sessions(s, c.actor(), a.id))


@console_page("staff.manage")
async def staff_active(c: Console) -> Response:
    active = c.form.get("active") == "1"
    reason = c.form.get("reason", "")[:500]
    return await _action(c, c._("Account activated.") if active else c._("Account deactivated."),
                         lambda s, a: accounts.set_active(s, c.actor(), a.id, active, reason=reason))


@console_page("staff.manage")
async def staff_totp_reset(c: Console) -> Response:
    return await _action(c, c._("Two-factor log-in has been reset."), lambda s, a: reset_totp(s, c.actor(), a))


def routes() -> list:
    return [
        Route("/c/{city}/staff", staff_list, methods=["GET"]),
        Route("/c/{city}/staff/new", staff_new, methods=["GET", "POST"]),
        Route("/c/{city}/staff/{id:int}", staff_edit, methods=["GET", "POST"]),
        Route("/c/{city}/staff/{id:int}/password", staff_password, methods=["POST"]),
        Route("/c/{city}/staff/{id:int}/unlock", staff_unlock, methods=["POST"]),
        Route("/c/{city}/staff/{id:int}/end-sessions", staff_end_sessions, methods=["POST"]),
        Route("/c/{city}/staff/{id:int}/active", staff_active, methods=["POST"]),
        Route("/c/{city}/staff/{id:int}/totp-reset", staff_totp_reset, methods=["POST"]),
    ]
