"""Managing a city's staff accounts (R12.1): create, edit, reset password, unlock, end sessions,
deactivate.

Every function takes the acting :class:`~core.audit.Actor` and records the change in the same
transaction. The account's scope must fit its role (a scheduler belongs to a hospital, a
doctor to one of that hospital's doctors, a referral clerk to a community centre, a bureau
viewer to some districts or none = the whole city); a scope that does not exist in the city
is refused with field errors, never stored.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.core.errors import Conflict, NotFound, ValidationFailed
from guahao.core.members.passwords import hash_password
from guahao.core.models import District, Doctor, Hospital
from guahao.core.models.staff import HOSPITAL_ROLES, StaffAccount, StaffRole
from guahao.core.staff.auth import forget_failures, locked_addresses
from guahao.core.staff.sessions import end_sessions as _end_sessions
from guahao.tenants.context import require_city

USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MIN_PASSWORD = 10
CITY_ROLES = tuple(r for r in StaffRole if r is not StaffRole.vendor_admin)
EDITABLE = ("display_name", "phone", "email", "role", "hospital_id", "doctor_id", "district_ids", "sso_subject")


def snapshot(account: StaffAccount) -> dict[str, Any]:
    """What the audit log keeps of an account: never the password hash or TOTP secret."""
    return {
        "username": account.username,
        "display_name": account.display_name,
        "phone": account.phone,
        "email": account.email,
        "role": account.role,
        "hospital_id": account.hospital_id,
        "doctor_id": account.doctor_id,
        "district_ids": list(account.district_ids or []),
        "active": account.active,
        "two_factor": account.totp_enabled,
        "sso_subject": account.sso_subject,
        "locked_until": account.locked_until,
    }


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD or password.isdigit() or password.isalpha():
        raise ValidationFailed(
            "weak_password",
            f"密码至少 {MIN_PASSWORD} 位，且须同时含字母和数字 / at least {MIN_PASSWORD} characters with letters and digits",
            details={"password": "weak_password"},
        )


async def _check_scope(s: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    """Normalise the scope fields for the role; raises ValidationFailed listing every problem."""
    errors: dict[str, str] = {}
    try:
        role = StaffRole(values.get("role"))
    except ValueError:
        raise ValidationFailed("invalid_role", "unknown role", details={"role": "invalid_role"}) from None
    if role is StaffRole.vendor_admin:
        errors["role"] = "invalid_role"
    hospital_id = values.get("hospital_id") if role in HOSPITAL_ROLES else None
    doctor_id = values.get("doctor_id") if role is StaffRole.doctor else None
    district_ids = sorted({int(d) for d in values.get("district_ids") or []}) if role is StaffRole.bureau_viewer else []
    if role in HOSPITAL_ROLES:
        hospital = await s.get(Hospital, hospital_id) if hospital_id else None
        if hospital is None or hospital.city_id != require_city().id:
            errors["hospital_id"] = "required" if not hospital_id else "not_found"
        elif role is StaffRole.referral_clerk and hospital.kind != "community":
            errors["hospital_id"] = "not_community"
    if role is StaffRole.doctor:
        doctor = await s.get(Doctor, doctor_id) if doctor_id else None
        if doctor is None:
            errors["doctor_id"] = "required" if not doctor_id else "not_found"
        elif doctor.city_id != require_city().id or doctor.hospital_id != hospital_id:
            errors["doctor_id"] = "other_hospital"
    if district_ids:
        found = set((await s.scalars(select(District.id).where(District.id.in_(district_ids)))).all())
        if found != set(district_ids):
            errors["district_ids"] = "not_found"
    if errors:
        raise ValidationFailed("invalid_scope", "the role's scope is incomplete or unknown", details=errors)
    return {"role": role.value, "hospital_id": hospital_id, "doctor_id": doctor_id, "district_ids": district_ids}


async def _unique(
    s: AsyncSession, *, username: str | None = None, sso_subject: str | None = None, exclude: int | None = None
) -> None:
    if username:
        q = select(StaffAccount.id).where(func.lower(StaffAccount.username) == username.lower())
        if exclude:
            q = q.where(StaffAccount.id != exclude)
        if await s.scalar(q) is not None:
            raise Conflict("username_taken", f"用户名 {username} 已被使用 / username {username} is taken",
                           details={"username": "taken"})
    if sso_subject:
        q = select(StaffAccount.id).where(StaffAccount.sso_subject == sso_subject)
        if exclude:
            q = q.where(StaffAccount.id != exclude)
        if await s.scalar(q) is not None:
            raise Conflict("sso_subject_taken", "this single sign-on subject belongs to another account",
                           details={"sso_subject": "taken"})


async def create_staff(
    s: AsyncSession,
    actor: audit.Actor,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str | None = None,
    phone: str = "",
    email: str = "",
    hospital_id: int | None = None,
    doctor_id: int | None = None,
    district_ids: list[int] | None = None,
    sso_subject: str | None = None,
) -> StaffAccount:
    """A new active account of the current city. Without a password it can log in by SSO only."""
    username = (username or "").strip().lower()
    errors = {}
    if not USERNAME_RE.fullmatch(username):
        errors["username"] = "invalid_username"
    if not (display_name or "").strip():
        errors["display_name"] = "required"
    if errors:
        raise ValidationFailed("invalid_account", "some fields are missing or invalid", details=errors)
    if password:
        check_password_strength(password)
    scope = await _check_scope(s, {"role": role, "hospital_id": hospital_id, "doctor_id": doctor_id,
                                   "district_ids": district_ids})
    sso_subject = (sso_subject or "").strip() or None
    await _unique(s, username=username, sso_subject=sso_subject)
    account = StaffAccount(
        username=username, display_name=display_name.strip()[:100], phone=(phone or "").strip()[:20],
        email=(email or "").strip()[:254], sso_subject=sso_subject,
        password_hash=await hash_password(password) if password else None, **scope,
    )
    s.add(account)
    await s.flush()
    audit.record(s, actor, "staff.create", target_type="staff", target_id=account.id,
                 summary=f"{account.username} ({account.role})", after=snapshot(account))
    return account


async def get_staff(s: AsyncSession, account_id: int) -> StaffAccount:
    account = await s.get(StaffAccount, account_id) if account_id else None
    if account is None or account.city_id != require_city().id:
        raise NotFound("staff account", code="staff_not_found")
    return account


async def list_staff(
    s: AsyncSession,
    *,
    hospital_ids: set[int] | None = None,
    roles: set[str] | None = None,
    text: str | None = None,
    include_inactive: bool = True,
) -> list[StaffAccount]:
    """Accounts of the current city, optionally limited to some hospitals and roles."""
    q = select(StaffAccount)
    if hospital_ids is not None:
        q = q.where(StaffAccount.hospital_id.in_(hospital_ids or {-1}))
    if roles is not None:
        q = q.where(StaffAccount.role.in_(roles or {""}))
    if text:
        like = f"%{text.strip()}%"
        q = q.where(or_(StaffAccount.username.ilike(like), StaffAccount.display_name.ilike(like)))
    if not include_inactive:
        q = q.where(StaffAccount.active.is_(True))
    return list((await s.scalars(q.order_by(StaffAccount.role, StaffAccount.username))).all())


async def update_staff(s: AsyncSession, actor: audit.Actor, account_id: int, **changes: Any) -> StaffAccount:
    """Change profile and scope fields (see ``EDITABLE``); the scope is checked as a whole."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed("invalid_field", f"cannot change {', '.join(sorted(unknown))}")
    account = await get_staff(s, account_id)
    before = snapshot(account)
    merged = {f: changes.get(f, getattr(account, f)) for f in ("role", "hospital_id", "doctor_id", "district_ids")}
    scope = await _check_scope(s, merged)
    if "display_name" in changes and not str(changes["display_name"] or "").strip():
        raise ValidationFailed("invalid_account", "a name is required", details={"display_name": "required"})
    if "sso_subject" in changes:
        changes["sso_subject"] = (changes["sso_subject"] or "").strip() or None
        await _unique(s, sso_subject=changes["sso_subject"], exclude=account.id)
    for field in ("display_name", "phone", "email", "sso_subject"):
        if field in changes:
            value = changes[field]
            setattr(account, field, value.strip() if isinstance(value, str) else value)
    for field, value in scope.items():
        setattr(account, field, value)
    after = snapshot(account)
    if after != before:
        audit.record(s, actor, "staff.update", target_type="staff", target_id=account.id,
                     summary=account.username, before=before, after=after)
    return account


async def set_password(s: AsyncSession, actor: audit.Actor, account_id: int, password: str) -> StaffAccount:
    """A new password (set by an administrator or the person); also lifts a lock-out and every
    address's pause, and ends every console session of the account issued before."""
    check_password_strength(password)
    account = await get_staff(s, account_id)
    account.password_hash = await hash_password(password)
    _end_sessions(account)
    account.failed_logins = account.totp_failures = 0
    account.locked_until = None
    await forget_failures(s, account)
    audit.record(s, actor, "staff.password", target_type="staff", target_id=account.id,
                 summary=f"password reset for {account.username}")
    return account


async def unlock(s: AsyncSession, actor: audit.Actor, account_id: int) -> StaffAccount:
    """Lift the account's lock and the pause of every address that guessed wrong (audited)."""
    account = await get_staff(s, account_id)
    before = {**snapshot(account), "locked_addresses": await locked_addresses(s, account)}
    account.failed_logins = account.totp_failures = 0
    account.locked_until = None
    await forget_failures(s, account)
    audit.record(s, actor, "staff.unlock", target_type="staff", target_id=account.id,
                 summary=account.username, before=before, after={**snapshot(account), "locked_addresses": 0})
    return account


async def end_sessions(s: AsyncSession, actor: audit.Actor, account_id: int) -> StaffAccount:
    """Log the person out everywhere at once: every console cookie issued so far stops working
    at its next request (audited)."""
    account = await get_staff(s, account_id)
    _end_sessions(account)
    audit.record(s, actor, "staff.end_sessions", target_type="staff", target_id=account.id,
                 summary=f"all sessions of {account.username} ended")
    return account


async def set_active(s: AsyncSession, actor: audit.Actor, account_id: int, active: bool, *, reason: str = "") -> StaffAccount:
    """Deactivate (the person is logged out at the next request) or reactivate an account."""
    account = await get_staff(s, account_id)
    if account.active == active:
        return account
    before = snapshot(account)
    account.active = active
    audit.record(s, actor, "staff.activate" if active else "staff.deactivate", target_type="staff",
                 target_id=account.id, summary=account.username, reason=reason, before=before, after=snapshot(account))
    return account
