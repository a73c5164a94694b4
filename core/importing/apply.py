"""Applying an import plan: all of it in one transaction, or nothing.

``apply`` matches the files against the city again inside the caller's transaction (the
city may have changed since the preview), writes every sheet in dependency order and
records one audit entry with the counts. Any error raises, and the caller's transaction
rolls back with nothing written.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.core.audit import Actor
from guahao.core.errors import Conflict, ValidationFailed
from guahao.tenants.context import CityContext, require_city, use_city

from .plan import CityCatalogue, ImportPlan, RowAction, SheetPlan, preview, reconcile
from .reader import DEFAULT_LIMITS, ImportFile, Limits
from .sheets import SHEETS

SHEETS_BY_NAME = {s.name: s for s in SHEETS}

def _refused(code: str, zh: str, en: str, errors) -> ValidationFailed:
    return ValidationFailed(code, f"{zh} / {en}", details=[e.to_dict() for e in errors])


async def apply(session: AsyncSession, plan: ImportPlan, actor: Actor) -> dict[str, dict[str, int]]:
    """Write the plan into the current city; returns sheet → {created, updated, unchanged}.

    Parameters:
        session: a session of the current city inside the one transaction to write in.
        plan: from :func:`core.importing.preview` for the same city.
        actor: who imports (recorded in the audit log).

    Raises ``ValidationFailed`` (``import_has_errors``) when the plan lists errors and
    (``import_stale``) when the city changed since the preview so that it no longer fits;
    ``Conflict`` (``import_wrong_city``) for a plan made for another city.
    """
    city = require_city()
    if plan.errors:
        raise _refused("import_has_errors", f"文件有 {len(plan.errors)} 处错误，未导入任何数据",
                       f"the files have {len(plan.errors)} errors; nothing was imported", plan.errors)
    if plan.city_id != city.id:
        raise Conflict("import_wrong_city", "该导入预览属于另一个城市 / the preview was made for another city")
    sheets, errors = await reconcile(session, plan.parsed)
    if errors:
        raise _refused("import_stale", "预览之后本市数据已变化，请重新预览",
                       "the city changed since the preview; preview again", errors)
    await _write(session, sheets)
    counts = {s.name: {"created": s.created, "updated": s.updated, "unchanged": s.unchanged} for s in sheets}
    created = sum(c["created"] for c in counts.values())
    updated = sum(c["updated"] for c in counts.values())
    unchanged = sum(c["unchanged"] for c in counts.values())
    audit.record(
        session,
        actor,
        "catalogue.import",
        target_type="city",
        target_id=city.slug,
        summary=f"导入目录 {', '.join(plan.files)}：新增 {created}，更新 {updated}，未变 {unchanged} "
        f"/ catalogue import: {created} created, {updated} updated, {unchanged} unchanged",
        after={"files": plan.files, "counts": counts},
    )
    await session.flush()
    return counts


async def _write(session: AsyncSession, sheets: Sequence[SheetPlan]) -> None:
    """Create and update in dependency order, flushing after each sheet so that the next
    one can refer to the new rows' ids."""
    ids = _Ids(await CityCatalogue.load(session))
    for sheet in sheets:
        model = SHEETS_BY_NAME[sheet.name].model
        created = []
        for action in sheet.actions:
            if action.action == "create":
                obj = model(**ids.columns(sheet.name, action.values))
                session.add(obj)
                created.append((action, obj))
            elif action.action == "update":
                for name, value in ids.columns(sheet.name, {k: v for k, (_, v) in action.changes.items()}).items():
                    setattr(action.target, name, value)
        await session.flush()
        for action, obj in created:
            ids.remember(sheet.name, action, obj)


class _Ids:
    """Ids of the rows a file refers to by code, existing or created by this import."""

    def __init__(self, city: CityCatalogue):
        self.districts = {k[0]: d.id for k, d in city.districts.items()}
        self.hospitals = {k[0]: h.id for k, h in city.hospitals.items()}
        self.departments = {k: d.id for k, d in city.departments.items()}

    def remember(self, sheet: str, action: RowAction, obj: Any) -> None:
        if sheet == "districts":
            self.districts[action.key[0]] = obj.id
        elif sheet == "hospitals":
            self.hospitals[action.key[0]] = obj.id
        elif sheet == "departments":
            self.departments[action.key] = obj.id

    def columns(self, sheet: str, values: dict[str, Any]) -> dict[str, Any]:
        """Import fields → model attributes: codes of referenced rows become their ids."""
        out = dict(values)
        if "district_code" in out:
            code = out.pop("district_code")
            out["district_id"] = self.districts[code] if code else None
        if "department_code" in out:
            out["department_id"] = self.departments[(values["hospital_code"], out.pop("department_code"))]
        if "hospital_code" in out:
            out["hospital_id"] = self.hospitals[out.pop("hospital_code")]
        return out


async def import_files(
    db,
    city: CityContext,
    files: Sequence[ImportFile],
    actor: Actor,
    *,
    dry_run: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[ImportPlan, dict[str, dict[str, int]] | None]:
    """Preview ``files`` for ``city`` and, unless ``dry_run`` or the plan has errors, apply
    it in the same transaction. Returns the plan and the counts written (``None`` when
    nothing was written)."""
    with use_city(city):
        async with db.transaction() as s:
            plan = await preview(s, files, limits=limits)
            if dry_run or not plan.ok:
                return plan, None
            return plan, await apply(s, plan, actor)
