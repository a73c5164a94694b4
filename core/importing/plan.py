"""The preview: what an import would do to the current city, row by row, before it does it.

Rows are matched with the city's own by natural key — district, hospital, by code; a
campus by hospital and name; a department or registration type by hospital and code; a
doctor by hospital, department and name — and each becomes *create*, *update* (with the
fields that change) or *unchanged*. Rows of the city that the files do not mention are left
as they are. References (a doctor's department, a hospital's district) may point at rows in
the files or already in the city; a missing one is an error on the referring row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Campus, Department, District, Doctor, Hospital, RegistrationType
from guahao.tenants.context import require_city

from .messages import RowError, problem
from .parse import Parsed, ParsedRow, ParsedSheet, parse_files
from .reader import DEFAULT_LIMITS, ImportFile, Limits
from .sheets import SHEETS


@dataclass
class RowAction:
    """What happens to one row: ``create``, ``update`` (``changes``: field → (old, new))
    or ``unchanged``. ``target`` is the city's row it matched, in the planning session."""

    sheet: str
    row: int
    key: tuple
    action: str
    values: dict[str, Any]
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    target: Any = field(default=None, repr=False, compare=False)


@dataclass
class SheetPlan:
    """One sheet's outcome: rows read and how many will be created, updated, unchanged."""

    name: str
    title: str
    source: str
    rows: int
    actions: list[RowAction] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for a in self.actions if a.action == action)

    @property
    def created(self) -> int:
        return self.count("create")

    @property
    def updated(self) -> int:
        return self.count("update")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")


@dataclass
class ImportPlan:
    """The preview of an import into one city. ``errors`` lists every problem (the import
    is refused while there is one); ``warnings`` are things read differently or ignored."""

    city_id: int
    files: list[str]
    sheets: list[SheetPlan]
    errors: list[RowError]
    warnings: list[RowError]
    parsed: Parsed = field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, dict[str, int]]:
        """Sheet name → {created, updated, unchanged}."""
        return {
            s.name: {"created": s.created, "updated": s.updated, "unchanged": s.unchanged} for s in self.sheets
        }

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data (counts, errors, warnings; not the rows' values)."""
        return {
            "ok": self.ok,
            "files": self.files,
            "sheets": [
                {"name": s.name, "title": s.title, "source": s.source, "rows": s.rows, **self.counts()[s.name]}
                for s in self.sheets
            ],
            "errors": [e.to_dict() for e in self.errors],
            "warnings": [w.to_dict() for w in self.warnings],
        }


async def preview(session: AsyncSession, files: Sequence[ImportFile], *, limits: Limits = DEFAULT_LIMITS) -> ImportPlan:
    """Read, check and match ``files`` against the current city; writes nothing.

    Parameters:
        session: a session of the current city (``use_city``), read only.
        files: the uploaded files (CSV named after their sheet, or XLSX workbooks).
        limits: size limits (files, bytes, rows per sheet).
    """
    city = require_city()
    parsed = parse_files(files, limits)
    sheets, errors = await reconcile(session, parsed)
    return ImportPlan(city.id, parsed.files, sheets, _ordered(parsed.errors + errors), parsed.warnings, parsed)


def _ordered(errors: list[RowError]) -> list[RowError]:
    order = {s.name: i for i, s in enumerate(SHEETS)}
    return sorted(errors, key=lambda e: (order.get(e.sheet, -1), e.source, e.row or 0, e.cell))


@dataclass
class CityCatalogue:
    """The city's catalogue as it is now, keyed the way the files key it."""

    districts: dict[tuple, District]
    hospitals: dict[tuple, Hospital]
    campuses: dict[tuple, list[Campus]]
    departments: dict[tuple, Department]
    registration_types: dict[tuple, RegistrationType]
    doctors: dict[tuple, list[Doctor]]
    district_codes: dict[int, str]  # district id → code

    @classmethod
    async def load(cls, session: AsyncSession) -> CityCatalogue:
        districts = (await session.scalars(select(District))).all()
        hospitals = (await session.scalars(select(Hospital))).all()
        hcode = {h.id: h.code for h in hospitals}
        departments = (await session.scalars(select(Department))).all()
        dcode = {d.id: d.code for d in departments}
        campuses: dict[tuple, list[Campus]] = {}
        for c in (await session.scalars(select(Campus).order_by(Campus.id))).all():
            campuses.setdefault((hcode[c.hospital_id], c.name), []).append(c)
        doctors: dict[tuple, list[Doctor]] = {}
        for d in (await session.scalars(select(Doctor).order_by(Doctor.id))).all():
            doctors.setdefault((hcode[d.hospital_id], dcode[d.department_id], d.name), []).append(d)
        types = (await session.scalars(select(RegistrationType))).all()
        return cls(
            districts={(d.code,): d for d in districts},
            hospitals={(h.code,): h for h in hospitals},
            campuses=campuses,
            departments={(hcode[d.hospital_id], d.code): d for d in departments},
            registration_types={(hcode[t.hospital_id], t.code): t for t in types},
            doctors=doctors,
            district_codes={d.id: d.code for d in districts},
        )

    def existing(self, sheet: str) -> dict[tuple, Any]:
        return getattr(self, sheet)

    def current(self, obj: Any, name: str) -> Any:
        """A row's value of an import field (a hospital's district as its code)."""
        if name == "district_code":
            return self.district_codes.get(obj.district_id) if obj.district_id else None
        return getattr(obj, name)


# sheet → (field, referenced sheet, fields of the referenced key, message code)
REFERENCES: dict[str, list[tuple[str, str, tuple[str, ...], str]]] = {
    "hospitals": [("district_code", "districts", ("district_code",), "unknown_district")],
    "campuses": [("hospital_code", "hospitals", ("hospital_code",), "unknown_hospital")],
    "departments": [("hospital_code", "hospitals", ("hospital_code",), "unknown_hospital")],
    "registration_types": [("hospital_code", "hospitals", ("hospital_code",), "unknown_hospital")],
    "doctors": [
        ("hospital_code", "hospitals", ("hospital_code",), "unknown_hospital"),
        ("department_code", "departments", ("hospital_code", "department_code"), "unknown_department"),
    ],
}


async def reconcile(session: AsyncSession, parsed: Parsed) -> tuple[list[SheetPlan], list[RowError]]:
    """Match the parsed rows with the city's rows: the plan of each sheet and the reference
    errors. Run by :func:`preview`, and again by ``apply`` inside its transaction."""
    city = await CityCatalogue.load(session)
    plans: list[SheetPlan] = []
    errors: list[RowError] = []
    for sheet in SHEETS:
        ps = parsed.sheets.get(sheet.name)
        if ps is None:
            continue
        plan = SheetPlan(sheet.name, sheet.title, ps.source, len(ps.rows))
        existing = city.existing(sheet.name)
        for row in ps.rows:
            if not row.ok or not _references_ok(ps, row, parsed, city, errors):
                continue
            matches = existing.get(row.key)
            if isinstance(matches, list):
                if len(matches) > 1:
                    errors.append(_at(ps, row, sheet.key[-1], "ambiguous_existing", count=len(matches),
                                      key=" / ".join(row.key)))
                    continue
                matches = matches[0] if matches else None
            plan.actions.append(_action(sheet.name, sheet.key, row, matches, city))
        plans.append(plan)
    return plans, errors


def _references_ok(ps: ParsedSheet, row: ParsedRow, parsed: Parsed, city: CityCatalogue, errors: list) -> bool:
    ok = True
    for name, target, fields, code in REFERENCES.get(ps.sheet.name, ()):
        value = row.values.get(name)
        if value is None:  # an optional reference left blank
            continue
        key = tuple(row.values[f] for f in fields)
        in_file = parsed.sheets.get(target)
        if in_file is not None and (in_file.broken or key in in_file.keys()):
            continue
        if key in city.existing(target):
            continue
        params = {"code": value, "hospital": row.values.get("hospital_code", "")}
        errors.append(_at(ps, row, name, code, value=value, **params))
        ok = False
        break  # an unknown hospital makes its department unknown too: say it once
    return ok


def _at(ps: ParsedSheet, row: ParsedRow, name: str, error_code: str, **params: Any) -> RowError:
    index, written = ps.headers.get(name, (None, ps.sheet.column(name).header))
    return problem(error_code, source=ps.source, sheet=ps.sheet.name, row=row.row, column=written, column_index=index,
                   **params)


def _action(sheet: str, key_fields: tuple[str, ...], row: ParsedRow, target: Any, city: CityCatalogue) -> RowAction:
    if target is None:
        return RowAction(sheet, row.row, row.key, "create", row.values)
    changes = {
        name: (city.current(target, name), value)
        for name, value in row.values.items()
        if name not in key_fields and city.current(target, name) != value
    }
    return RowAction(sheet, row.row, row.key, "update" if changes else "unchanged", row.values, changes, target)
