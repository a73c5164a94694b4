"""Onboarding and editing a city's catalogue by hand (R12.1): hospitals, campuses, departments,
doctors and registration types with their fees.

The rules live here, not in the pages that call them: codes are unique (a hospital's in the
city, a department's and a registration type's in its hospital), fees are whole fen and not
negative, and every change is one audit entry in the caller's transaction. Callers pass
``hospital_id`` to confine a change to one hospital (a hospital administrator); a row of
another hospital is answered as missing. ``ValidationFailed`` details map field → error code.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.errors import Conflict, NotFound, ValidationFailed
from guahao.core.models import Campus, Department, District, Doctor, DoctorTitle, Hospital, HospitalKind, RegistrationType

CODE = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
DEPARTMENT_CODE = re.compile(r"^\d{2}(\.\d{2})?$")
MAX_FEE_FEN = 1_000_000  # ¥10,000: anything above is a typing slip


def fen_of_yuan(text: str) -> int:
    """``"25"``/``"25.5"``/``"25.50"`` → 2550; raises ``ValidationFailed`` (``fee``: ``bad_fee``)."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")) or value * 100 > MAX_FEE_FEN:
        raise ValidationFailed("invalid_fee", "挂号费应为以元为单位、最多两位小数的金额 / the fee is an amount in yuan "
                               "with at most two decimals", details={"fee": "bad_fee"})
    return int(value * 100)


def _text(values: dict, name: str, limit: int, errors: dict, *, required: bool = False) -> str:
    value = str(values.get(name) or "").strip()
    if required and not value:
        errors[name] = "required"
    elif len(value) > limit:
        errors[name] = "too_long"
    return value


def _check(errors: dict) -> None:
    if errors:
        raise ValidationFailed("invalid_input", "请检查标出的字段 / check the marked fields", details=errors)


def _snapshot(obj: Any, fields: tuple[str, ...]) -> dict:
    return {f: (str(v) if hasattr(v, "value") else v) for f in fields for v in [getattr(obj, f)]}


HOSPITAL_FIELDS = ("code", "name", "short_name", "kind", "level", "grade", "district_id", "address", "phone",
                   "description", "active")


async def _hospital_values(s: AsyncSession, values: dict, current: Hospital | None) -> dict:
    errors: dict[str, str] = {}
    out: dict[str, Any] = {
        "code": _text(values, "code", 40, errors, required=True),
        "name": _text(values, "name", 200, errors, required=True),
        "short_name": _text(values, "short_name", 60, errors),
        "address": _text(values, "address", 300, errors),
        "phone": _text(values, "phone", 40, errors),
        "description": _text(values, "description", 4000, errors),
    }
    if out["code"] and not CODE.match(out["code"]):
        errors["code"] = "bad_code"
    kind = str(values.get("kind") or "general")
    if kind not in HospitalKind.__members__:
        errors["kind"] = "bad_choice"
    out["kind"] = kind
    level = str(values.get("level") or "3")
    if level not in ("1", "2", "3"):
        errors["level"] = "bad_choice"
    out["level"] = int(level) if level in ("1", "2", "3") else 3
    grade = str(values.get("grade") or "甲")
    if grade not in ("甲", "乙", "丙"):
        errors["grade"] = "bad_choice"
    out["grade"] = grade
    district_id = values.get("district_id")
    district_id = int(district_id) if str(district_id or "").isdigit() else None
    if district_id is not None and await s.get(District, district_id) is None:
        errors["district_id"] = "not_found"
    out["district_id"] = district_id
    _check(errors)
    clash = await s.scalar(select(Hospital.id).where(Hospital.code == out["code"]))
    if clash is not None and (current is None or clash != current.id):
        raise Conflict("code_taken", "该编码已被本市其他医院使用 / this code is already used", details={"code": "taken"})
    return out


async def get_hospital(s: AsyncSession, hospital_id: int, *, scope: int | None = None) -> Hospital:
    found = await s.get(Hospital, hospital_id)
    if found is None or (scope is not None and found.id != scope):
        raise NotFound("hospital", code="hospital_not_found")
    return found


async def create_hospital(s: AsyncSession, actor: Actor, values: dict) -> Hospital:
    hospital = Hospital(**await _hospital_values(s, values, None))
    s.add(hospital)
    await s.flush()
    audit.record(s, actor, "hospital.create", target_type="hospital", target_id=hospital.id,
                 summary=f"新增医院 {hospital.code} {hospital.name}", after=_snapshot(hospital, HOSPITAL_FIELDS))
    return hospital


async def update_hospital(s: AsyncSession, actor: Actor, hospital_id: int, values: dict) -> Hospital:
    hospital = await get_hospital(s, hospital_id)
    before = _snapshot(hospital, HOSPITAL_FIELDS)
    for name, value in (await _hospital_values(s, values, hospital)).items():
        setattr(hospital, name, value)
    hospital.active = str(values.get("active", "1")) == "1"
    await s.flush()
    audit.record(s, actor, "hospital.update", target_type="hospital", target_id=hospital.id,
                 summary=f"修改医院 {hospital.code}", before=before, after=_snapshot(hospital, HOSPITAL_FIELDS))
    return hospital


async def add_campus(s: AsyncSession, actor: Actor, hospital_id: int, values: dict, *, scope: int | None = None) -> Campus:
    await get_hospital(s, hospital_id, scope=scope)
    errors: dict[str, str] = {}
    campus = Campus(hospital_id=hospital_id, name=_text(values, "name", 200, errors, required=True),
                    address=_text(values, "address", 300, errors))
    _check(errors)
    s.add(campus)
    await s.flush()
    audit.record(s, actor, "campus.create", target_type="campus", target_id=campus.id,
                 summary=f"新增院区 {campus.name}", after={"hospital_id": hospital_id, "name": campus.name})
    return campus


def _department_code(values: dict, errors: dict) -> str:
    """A department's code from the form: required, of the national list's shape (03 or 03.01)."""
    code = _text(values, "code", 20, errors, required=True)
    if code and not DEPARTMENT_CODE.match(code):
        errors["code"] = "bad_department_code"
    return code


async def _department_code_free(s: AsyncSession, hospital_id: int, code: str, own_id: int | None = None) -> None:
    """Refuse a code another department of the hospital already has."""
    clash = await s.scalar(select(Department.id).where(Department.hospital_id == hospital_id, Department.code == code))
    if clash is not None and clash != own_id:
        raise Conflict("code_taken", "本院已有该科室编码 / this hospital already has this department code",
                       details={"code": "taken"})


async def _doctor_department(s: AsyncSession, values: dict, hospital_id: int, errors: dict) -> Department | None:
    """The form's department when it is one of the hospital's, else ``None`` (``not_found``)."""
    department_id = str(values.get("department_id") or "")
    department = await s.get(Department, int(department_id)) if department_id.isdigit() and len(department_id) < 10 else None
    if department is None or department.hospital_id != hospital_id:
        errors["department_id"] = "not_found"
        return None
    return department


def _doctor_title(values: dict, errors: dict, default: str = "") -> str:
    title = str(values.get("title") or default)
    if title not in DoctorTitle.__members__:
        errors["title"] = "bad_choice"
    return title


async def add_department(
    s: AsyncSession, actor: Actor, hospital_id: int, values: dict, *, scope: int | None = None
) -> Department:
    await get_hospital(s, hospital_id, scope=scope)
    errors: dict[str, str] = {}
    code = _department_code(values, errors)
    department = Department(hospital_id=hospital_id, code=code, name=_text(values, "name", 100, errors, required=True),
                            description=_text(values, "description", 2000, errors))
    _check(errors)
    await _department_code_free(s, hospital_id, code)
    s.add(department)
    await s.flush()
    audit.record(s, actor, "department.create", target_type="department", target_id=department.id,
                 summary=f"新增科室 {code} {department.name}", after={"hospital_id": hospital_id, "code": code})
    return department


async def add_doctor(s: AsyncSession, actor: Actor, hospital_id: int, values: dict, *, scope: int | None = None) -> Doctor:
    await get_hospital(s, hospital_id, scope=scope)
    errors: dict[str, str] = {}
    department = await _doctor_department(s, values, hospital_id, errors)
    title = _doctor_title(values, errors, "attending")
    doctor = Doctor(hospital_id=hospital_id, department_id=department.id if department else 0,
                    name=_text(values, "name", 60, errors, required=True), title=title,
                    specialty=_text(values, "specialty", 300, errors))
    _check(errors)
    s.add(doctor)
    await s.flush()
    audit.record(s, actor, "doctor.create", target_type="doctor", target_id=doctor.id,
                 summary=f"新增医生 {doctor.name}", after={"hospital_id": hospital_id, "department_id": department.id,
                                                       "title": title})
    return doctor


CAMPUS_FIELDS = ("name", "address")
DEPARTMENT_FIELDS = ("code", "name", "description")
DOCTOR_FIELDS = ("name", "title", "department_id", "specialty", "introduction", "photo_url")
PHOTO_URL = re.compile(r"^(https://[^\s\"'<>]{4,290}|/static/[A-Za-z0-9._/-]{1,280})$")


def _in_scope(row, hospital_id: int, scope: int | None) -> bool:
    return row is not None and row.hospital_id == hospital_id and (scope is None or hospital_id == scope)


async def _apply(s: AsyncSession, actor: Actor, row, changes: dict, fields: tuple[str, ...], kind: str, summary: str):
    """Set ``changes`` on ``row`` and audit ``<kind>.update`` with the ``fields`` before and after."""
    before = _snapshot(row, fields)
    for name, value in changes.items():
        setattr(row, name, value)
    await s.flush()
    audit.record(s, actor, f"{kind}.update", target_type=kind, target_id=row.id, summary=summary, before=before,
                 after=_snapshot(row, fields))
    return row


async def update_campus(
    s: AsyncSession, actor: Actor, hospital_id: int, campus_id: int, values: dict, *, scope: int | None = None
) -> Campus:
    """Rename a campus or change its address (what patients are told to go to)."""
    campus = await s.get(Campus, campus_id)
    if not _in_scope(campus, hospital_id, scope):
        raise NotFound("campus", code="campus_not_found")
    errors: dict[str, str] = {}
    changes = {"name": _text(values, "name", 200, errors, required=True), "address": _text(values, "address", 300, errors)}
    _check(errors)
    return await _apply(s, actor, campus, changes, CAMPUS_FIELDS, "campus", f"修改院区 {changes['name']}")


async def update_department(
    s: AsyncSession, actor: Actor, hospital_id: int, department_id: int, values: dict, *, scope: int | None = None
) -> Department:
    """Change a department's national code (《医疗机构诊疗科目名录》), name or description."""
    department = await s.get(Department, department_id)
    if not _in_scope(department, hospital_id, scope):
        raise NotFound("department", code="department_not_found")
    errors: dict[str, str] = {}
    code = _department_code(values, errors)
    changes = {"code": code, "name": _text(values, "name", 100, errors, required=True),
               "description": _text(values, "description", 2000, errors)}
    _check(errors)
    await _department_code_free(s, hospital_id, code, department.id)
    return await _apply(s, actor, department, changes, DEPARTMENT_FIELDS, "department",
                        f"修改科室 {code} {changes['name']}")


async def update_doctor(
    s: AsyncSession, actor: Actor, hospital_id: int, doctor_id: int, values: dict, *, scope: int | None = None
) -> Doctor:
    """Change what patients read of a doctor: name, title, department (of the same hospital),
    specialties, introduction and photo (an ``https://`` address or a ``/static/…`` path).
    Sessions already published keep their doctor; they show the new details."""
    doctor = await s.get(Doctor, doctor_id)
    if not _in_scope(doctor, hospital_id, scope):
        raise NotFound("doctor", code="doctor_not_found")
    errors: dict[str, str] = {}
    department = await _doctor_department(s, values, hospital_id, errors)
    title = _doctor_title(values, errors)
    photo = _text(values, "photo_url", 300, errors)
    if photo and "photo_url" not in errors and not PHOTO_URL.match(photo):
        errors["photo_url"] = "bad_photo_url"
    changes = {"name": _text(values, "name", 60, errors, required=True), "title": title,
               "department_id": department.id if department else 0,
               "specialty": _text(values, "specialty", 300, errors),
               "introduction": _text(values, "introduction", 4000, errors), "photo_url": photo}
    _check(errors)
    return await _apply(s, actor, doctor, changes, DOCTOR_FIELDS, "doctor", f"修改医生 {changes['name']}")


async def set_doctor_active(
    s: AsyncSession, actor: Actor, doctor_id: int, active: bool, *, scope: int | None = None, reason: str = ""
) -> Doctor:
    """Deactivate (hidden from patients; sessions already published stay) or reactivate."""
    doctor = await s.get(Doctor, doctor_id)
    if doctor is None or (scope is not None and doctor.hospital_id != scope):
        raise NotFound("doctor", code="doctor_not_found")
    before = doctor.active
    doctor.active = active
    await s.flush()
    audit.record(s, actor, "doctor.activate" if active else "doctor.deactivate", target_type="doctor",
                 target_id=doctor.id, summary=f"{'启用' if active else '停用'}医生 {doctor.name}", reason=reason,
                 before={"active": before}, after={"active": active})
    return doctor


async def save_registration_type(
    s: AsyncSession, actor: Actor, hospital_id: int, values: dict, *, scope: int | None = None
) -> RegistrationType:
    """Create a registration type or, when the hospital has its code, change its name and fee
    (``fee`` in yuan). Sessions keep the fee they were published with."""
    await get_hospital(s, hospital_id, scope=scope)
    errors: dict[str, str] = {}
    code = _text(values, "code", 20, errors, required=True)
    if code and not CODE.match(code):
        errors["code"] = "bad_code"
    name = _text(values, "name", 40, errors, required=True)
    try:
        fee = fen_of_yuan(str(values.get("fee", "")))
    except ValidationFailed:
        errors["fee"] = "bad_fee"
    _check(errors)
    rtype = await s.scalar(select(RegistrationType).where(RegistrationType.hospital_id == hospital_id,
                                                          RegistrationType.code == code))
    before = {"name": rtype.name, "fee_fen": rtype.fee_fen} if rtype else None
    if rtype is None:
        rtype = RegistrationType(hospital_id=hospital_id, code=code, name=name, fee_fen=fee)
        s.add(rtype)
    else:
        rtype.name, rtype.fee_fen = name, fee
    await s.flush()
    audit.record(s, actor, "registration_type.save", target_type="registration_type", target_id=rtype.id,
                 summary=f"号别 {code} {name} 挂号费 {fee / 100:.2f} 元", before=before,
                 after={"hospital_id": hospital_id, "code": code, "name": name, "fee_fen": fee})
    return rtype
