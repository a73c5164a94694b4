"""Fixtures of the import tests: the seeded demo catalogue, empty cities, snapshots."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from guahao.core.audit import Actor
from guahao.core.demo import seed_demo
from guahao.core.importing import SHEETS, ImportFile
from guahao.core.models import AuditEntry
from guahao.tenants.context import CityContext, use_city
from guahao.tenants.service import create_city

FILES = Path(__file__).resolve().parent / "files"
ACTOR = Actor("staff", 7, "城市运营管理员", role="city_admin", ip="127.0.0.1")

# A reference column → the referenced row's code (so snapshots compare without ids).
REFERENCES = {"district_id": "districts", "hospital_id": "hospitals", "department_id": "departments"}


@pytest.fixture(scope="module")
async def demo_city(rt) -> CityContext:
    """The demo catalogue seeded under a slug of its own (no sessions: they are not imported)."""
    report = await seed_demo(rt, slug=f"impdemo-{uuid.uuid4().hex[:6]}", days=0)
    return report.city


@pytest.fixture
async def empty_city(rt) -> CityContext:
    """A new city with nothing in it, not even districts."""
    return await create_city(rt.db, slug=f"imp-{uuid.uuid4().hex[:8]}", name="导入测试市")


def csv_files(directory: Path) -> list[ImportFile]:
    return [ImportFile.from_path(p) for p in sorted(directory.glob("*.csv"))]


async def snapshot(rt, city: CityContext) -> dict[str, list[tuple]]:
    """Every catalogue row of ``city``, field by field, ids replaced by the codes they mean (a
    hospital's HIS adapter left out)."""
    with use_city(city):
        async with rt.db.transaction() as s:
            rows = {sheet.name: (await s.scalars(select(sheet.model))).all() for sheet in SHEETS}
    codes = {name: {r.id: r.code for r in rows[name]} for name in ("districts", "hospitals", "departments")}
    out = {}
    for sheet in SHEETS:
        # A hospital's HIS adapter is its integration setting (``guahao his set``), not catalogue data.
        columns = [c.name for c in sheet.model.__table__.columns if c.name not in ("id", "city_id", "his_adapter")]
        out[sheet.name] = sorted(
            tuple(
                codes[REFERENCES[c]].get(getattr(r, c)) if c in REFERENCES else _plain(getattr(r, c))
                for c in columns
            )
            for r in rows[sheet.name]
        )
    return out


def _plain(value):
    return "" if value is None else str(value)


async def row_ids(rt, city: CityContext) -> dict[str, list[int]]:
    with use_city(city):
        async with rt.db.transaction() as s:
            return {sheet.name: sorted((await s.scalars(select(sheet.model.id))).all()) for sheet in SHEETS}


async def audit_count(rt, city: CityContext) -> int:
    with use_city(city):
        async with rt.db.transaction() as s:
            query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "catalogue.import")
            return await s.scalar(query)
