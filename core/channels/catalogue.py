"""Hospitals, departments and doctors found from what a caller says or types: a code, the full
name, the short name, an alias the city gave, or a part of the name.

An exact match (code, name, short name or alias, any case) wins on its own; otherwise every
hospital whose name contains the words is a candidate, so the channel can send the numbered
choices back. Only active hospitals and doctors are found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import select

from guahao.core.catalogue.queries import TITLE_NAMES
from guahao.core.models import Department, Doctor, Hospital

MAX_CHOICES = 9
_HOSPITAL_WORDS = re.compile(r"(医院|医疗中心|卫生院|院区|院)$")
_DEPARTMENT_WORDS = re.compile(r"(门诊|专科|科室|科)$")


@dataclass(frozen=True)
class Choice:
    """A hospital, department or doctor a channel can name: ``detail`` is what tells two
    choices apart (a hospital's code, a doctor's title and department)."""

    id: int
    code: str
    name: str
    detail: str = ""


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text or "").casefold()


def _pick(text: str, rows: list[tuple[Choice, tuple[str, ...]]], strip: re.Pattern) -> list[Choice]:
    """The exact match of ``text`` among each row's names, else rows whose names contain it
    (or it, stripped of a generic ending such as 医院/科, with at least two characters left)."""
    wanted = _key(text)
    if not wanted:
        return []
    exact = [c for c, names in rows if wanted in {_key(n) for n in names if n}]
    if exact:
        return exact[:MAX_CHOICES]
    core = strip.sub("", wanted)
    probes = {wanted} | ({core} if len(core) >= 2 else set())
    found = [c for c, names in rows if any(p in _key(n) for n in names if n for p in probes)]
    return found[:MAX_CHOICES]


async def find_hospitals(rt, text: str, *, aliases: Mapping[str, str] | None = None) -> list[Choice]:
    """Active hospitals of the current city that ``text`` names. ``aliases`` maps further
    names to hospital codes (a channel's settings: ``{"协和": "H1"}``)."""
    async with rt.db.transaction() as s:
        rows = (await s.execute(
            select(Hospital.id, Hospital.code, Hospital.name, Hospital.short_name)
            .where(Hospital.active.is_(True)).order_by(Hospital.level.desc(), Hospital.code)
        )).all()
    extra: dict[str, list[str]] = {}
    for alias, code in (aliases or {}).items():
        extra.setdefault(_key(str(code)), []).append(str(alias))
    return _pick(text, [
        (Choice(r.id, r.code, r.name, r.short_name), (r.code, r.name, r.short_name, *extra.get(_key(r.code), ())))
        for r in rows
    ], _HOSPITAL_WORDS)


async def find_departments(rt, hospital_id: int, text: str) -> list[Choice]:
    """Departments of the hospital that ``text`` names (national code, name or part of it)."""
    async with rt.db.transaction() as s:
        rows = (await s.execute(
            select(Department.id, Department.code, Department.name)
            .where(Department.hospital_id == hospital_id).order_by(Department.code)
        )).all()
    return _pick(text, [(Choice(r.id, r.code, r.name), (r.code, r.name)) for r in rows], _DEPARTMENT_WORDS)


async def find_doctors(rt, hospital_id: int, department_id: int, text: str) -> list[Choice]:
    """Active doctors of the department that ``text`` names: the full name, or the start of it
    (``王`` of ``王主任``)."""
    async with rt.db.transaction() as s:
        rows = (await s.execute(
            select(Doctor.id, Doctor.name, Doctor.title)
            .where(Doctor.hospital_id == hospital_id, Doctor.department_id == department_id, Doctor.active.is_(True))
            .order_by(Doctor.id)
        )).all()
    wanted = _key(text)
    if not wanted:
        return []
    choices = [(Choice(r.id, str(r.id), r.name, TITLE_NAMES.get(str(r.title), str(r.title))), _key(r.name)) for r in rows]
    exact = [c for c, name in choices if name == wanted]
    return exact or [c for c, name in choices if name.startswith(wanted)][:MAX_CHOICES]


async def list_hospitals(rt) -> list[Choice]:
    """Every active hospital of the current city, in the order ``find_hospitals`` offers them
    (highest level first, then code) — for a channel that reads out numbered choices."""
    async with rt.db.transaction() as s:
        rows = (await s.execute(
            select(Hospital.id, Hospital.code, Hospital.name, Hospital.short_name)
            .where(Hospital.active.is_(True)).order_by(Hospital.level.desc(), Hospital.code)
        )).all()
    return [Choice(r.id, r.code, r.name, r.short_name) for r in rows]


async def list_departments(rt, hospital_id: int) -> list[Choice]:
    """Every department of the hospital, by code."""
    async with rt.db.transaction() as s:
        rows = (await s.execute(
            select(Department.id, Department.code, Department.name)
            .where(Department.hospital_id == hospital_id).order_by(Department.code)
        )).all()
    return [Choice(r.id, r.code, r.name) for r in rows]


async def list_doctors(rt, hospital_id: int, department_id: int) -> list[Choice]:
    """Every active doctor of the department (``detail`` is the title), in ``find_doctors`` order."""
    async with rt.db.transaction() as s:
        rows = (await s.execute(
            select(Doctor.id, Doctor.name, Doctor.title)
            .where(Doctor.hospital_id == hospital_id, Doctor.department_id == department_id, Doctor.active.is_(True))
            .order_by(Doctor.id)
        )).all()
    return [Choice(r.id, str(r.id), r.name, TITLE_NAMES.get(str(r.title), str(r.title))) for r in rows]
