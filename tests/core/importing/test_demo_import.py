"""Importing the shipped demo files reproduces the demo catalogue; importing again is a no-op;
the shipped files are what the demo seed gives today."""

from __future__ import annotations

import csv
import io

from openpyxl import load_workbook
from sqlalchemy import select

from guahao.core.demo.files import DEMO_DIR, WORKBOOK, write_demo_files
from guahao.core.importing import ImportFile, apply, catalogue_rows, import_files, preview
from guahao.core.models import AuditEntry
from guahao.tenants.context import use_city

from .conftest import ACTOR, audit_count, csv_files, row_ids, snapshot

DEMO_COUNTS = {"districts": 3, "hospitals": 13, "campuses": 15, "departments": 97, "registration_types": 36}


async def test_csv_files_reproduce_the_demo_catalogue(rt, demo_city, empty_city):
    plan, counts = await import_files(rt.db, empty_city, csv_files(DEMO_DIR), ACTOR)
    assert plan.errors == [] and plan.warnings == []
    assert {name: c["created"] for name, c in counts.items() if name != "doctors"} == DEMO_COUNTS
    assert counts["doctors"]["created"] > 300
    assert all(c["updated"] == c["unchanged"] == 0 for c in counts.values())
    assert await snapshot(rt, empty_city) == await snapshot(rt, demo_city)


async def test_workbook_reproduces_the_demo_catalogue(rt, demo_city, empty_city):
    plan, counts = await import_files(rt.db, empty_city, [ImportFile.from_path(DEMO_DIR / WORKBOOK)], ACTOR)
    assert plan.errors == [] and plan.warnings == []
    assert [s.name for s in plan.sheets] == list(DEMO_COUNTS) + ["doctors"]
    assert await snapshot(rt, empty_city) == await snapshot(rt, demo_city)


async def test_importing_again_changes_nothing(rt, empty_city):
    await import_files(rt.db, empty_city, csv_files(DEMO_DIR), ACTOR)
    before, ids = await snapshot(rt, empty_city), await row_ids(rt, empty_city)
    # The workbook holds the same catalogue: every row is found and left alone.
    plan, counts = await import_files(rt.db, empty_city, [ImportFile.from_path(DEMO_DIR / WORKBOOK)], ACTOR)
    assert plan.errors == []
    assert all(c["created"] == c["updated"] == 0 and c["unchanged"] > 0 for c in counts.values())
    assert all(a.action == "unchanged" and not a.changes for s in plan.sheets for a in s.actions)
    assert await snapshot(rt, empty_city) == before
    assert await row_ids(rt, empty_city) == ids


async def test_one_audit_entry_per_import_with_the_counts(rt, empty_city):
    await import_files(rt.db, empty_city, csv_files(DEMO_DIR), ACTOR)
    assert await audit_count(rt, empty_city) == 1
    with use_city(empty_city):
        async with rt.db.transaction() as s:
            entry = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "catalogue.import"))).one()
    assert (entry.actor, entry.actor_role, entry.target_type, entry.target_id) == (
        "staff:7", "city_admin", "city", empty_city.slug)
    assert entry.after["counts"]["hospitals"] == {"created": 13, "updated": 0, "unchanged": 0}
    assert "doctors.csv" in entry.after["files"]
    assert "新增" in entry.summary and "created" in entry.summary


async def test_a_dry_run_writes_nothing(rt, empty_city):
    plan, counts = await import_files(rt.db, empty_city, csv_files(DEMO_DIR), ACTOR, dry_run=True)
    assert counts is None and plan.ok
    assert plan.counts()["doctors"]["created"] > 300
    assert all(not rows for rows in (await row_ids(rt, empty_city)).values())
    assert await audit_count(rt, empty_city) == 0


async def test_a_changed_fee_is_an_update_of_that_row_only(rt, empty_city):
    await import_files(rt.db, empty_city, csv_files(DEMO_DIR), ACTOR)
    text = (DEMO_DIR / "registration_types.csv").read_text(encoding="utf-8-sig")
    changed = text.replace("SY01,expert,专家门诊,50.00", "SY01,expert,专家门诊,60.00", 1)
    assert changed != text
    with use_city(empty_city):
        async with rt.db.transaction() as s:
            plan = await preview(s, [ImportFile("registration_types.csv", changed.encode())])
            assert plan.counts() == {"registration_types": {"created": 0, "updated": 1, "unchanged": 35}}
            [update] = [a for a in plan.sheets[0].actions if a.action == "update"]
            assert (update.row, update.key, update.changes) == (2, ("SY01", "expert"), {"fee_fen": (5000, 6000)})
            await apply(s, plan, ACTOR)
    snap = await snapshot(rt, empty_city)
    assert ("SY01", "expert", "专家门诊", "6000") in snap["registration_types"]


async def test_shipped_files_match_the_demo_seed(rt, demo_city, tmp_path):
    """Regenerate the files from the seed and compare, so they cannot drift from core/demo."""
    written = await write_demo_files(rt, tmp_path, slug=demo_city.slug)
    shipped = sorted(p.name for p in DEMO_DIR.iterdir())
    assert sorted(p.name for p in written) == shipped
    for path in written:
        if path.suffix == ".csv":
            assert path.read_bytes() == (DEMO_DIR / path.name).read_bytes(), f"{path.name} is out of date: " \
                "run `python -m guahao.core.demo.files`"
    fresh, old = (load_workbook(p, read_only=True) for p in (tmp_path / WORKBOOK, DEMO_DIR / WORKBOOK))
    assert fresh.sheetnames == old.sheetnames
    for name in fresh.sheetnames:
        assert list(fresh[name].values) == list(old[name].values), f"sheet {name} of {WORKBOOK} is out of date"
        with_bom = (DEMO_DIR / f"{name}.csv").read_text(encoding="utf-8-sig")
        assert [list(r) for r in old[name].values] == list(csv.reader(io.StringIO(with_bom, newline="")))


async def test_export_of_the_imported_city_equals_the_shipped_files(rt, empty_city):
    """Export → import → export is a fixed point: what an operator downloads imports back."""
    await import_files(rt.db, empty_city, [ImportFile.from_path(DEMO_DIR / WORKBOOK)], ACTOR)
    with use_city(empty_city):
        async with rt.db.transaction() as s:
            rows = await catalogue_rows(s)
    for name, table in rows.items():
        text = (DEMO_DIR / f"{name}.csv").read_text(encoding="utf-8-sig")
        assert table == list(csv.reader(io.StringIO(text, newline="")))
