"""A file with errors is refused whole, with every error listed and nothing written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from guahao.core.demo.files import DEMO_DIR
from guahao.core.errors import Conflict, ValidationFailed
from guahao.core.importing import ImportFile, Limits, apply, import_files, preview
from guahao.core.importing.apply import _Ids
from guahao.core.models import Hospital
from guahao.tenants.context import use_city

from .conftest import ACTOR, FILES, audit_count, csv_files, row_ids

# (file, row, column, code) of every error in files/bad/, in the order the plan lists them.
BAD_FILE_ERRORS = [
    ("notes.csv", None, "", "unknown_sheet"),
    ("districts.csv", 3, "", "duplicate_row"),
    ("districts.csv", 4, "区县名称", "missing_value"),
    ("hospitals.csv", 3, "kind", "bad_choice"),
    ("hospitals.csv", 3, "level", "bad_level"),
    ("hospitals.csv", 3, "grade", "bad_grade"),
    ("hospitals.csv", 3, "phone", "bad_phone"),
    ("hospitals.csv", 3, "payment_mode", "bad_choice"),
    ("hospitals.csv", 4, "district_code", "unknown_district"),
    ("campuses.csv", 3, "医院编码", "unknown_hospital"),
    ("departments.csv", 3, "科室编码", "department_code_lost_zero"),
    ("departments.csv", 4, "科室编码", "bad_department_code"),
    ("departments.csv", 5, "科室名称", "too_long"),
    ("registration_types.csv", 3, "挂号费（元）", "bad_fee"),
    ("registration_types.csv", 4, "挂号费（元）", "bad_fee"),
    ("registration_types.csv", 5, "挂号费（元）", "missing_value"),
    ("doctors.csv", 3, "", "duplicate_row"),
    ("doctors.csv", 4, "科室编码", "unknown_department"),
    ("doctors.csv", 5, "职称", "bad_choice"),
]


async def _preview(rt, city, files, **kw):
    with use_city(city):
        async with rt.db.transaction() as s:
            return await preview(s, files, **kw)


def _codes(plan) -> list[tuple]:
    return [(e.source, e.row, e.column, e.code) for e in plan.errors]


async def test_every_error_of_every_sheet_is_listed_and_nothing_is_written(rt, empty_city):
    plan, counts = await import_files(rt.db, empty_city, csv_files(FILES / "bad"), ACTOR)
    assert counts is None and not plan.ok
    assert _codes(plan) == BAD_FILE_ERRORS
    assert [(w.code, w.column) for w in plan.warnings] == [("unknown_column", "备注")]
    e = next(e for e in plan.errors if e.code == "unknown_district")
    assert (e.sheet, e.cell, e.value) == ("hospitals", "G4", "09")
    assert "09" in e.message_zh and "09" in e.message_en
    assert all(e.message_zh and e.message_en for e in plan.errors)
    assert all(not rows for rows in (await row_ids(rt, empty_city)).values())
    assert await audit_count(rt, empty_city) == 0


async def test_apply_refuses_a_plan_with_errors(rt, empty_city):
    with use_city(empty_city):
        async with rt.db.transaction() as s:
            plan = await preview(s, csv_files(FILES / "bad"))
            with pytest.raises(ValidationFailed) as exc:
                await apply(s, plan, ACTOR)
    assert exc.value.code == "import_has_errors" and exc.value.status == 422
    assert len(exc.value.details) == len(BAD_FILE_ERRORS)
    assert all(not rows for rows in (await row_ids(rt, empty_city)).values())


async def test_a_failure_midway_leaves_nothing(rt, empty_city, monkeypatch):
    """Hospitals and departments are flushed before doctors fail: all of it rolls back."""
    original = _Ids.columns

    def failing(self, sheet, values):
        if sheet == "doctors":
            raise RuntimeError("disk full")
        return original(self, sheet, values)

    monkeypatch.setattr(_Ids, "columns", failing)
    with pytest.raises(RuntimeError):
        await import_files(rt.db, empty_city, csv_files(DEMO_DIR), ACTOR)
    assert all(not rows for rows in (await row_ids(rt, empty_city)).values())
    assert await audit_count(rt, empty_city) == 0


async def test_a_plan_is_applied_only_to_its_own_city(rt, empty_city, city):
    plan = await _preview(rt, empty_city, csv_files(DEMO_DIR))
    with use_city(city):
        async with rt.db.transaction() as s:
            with pytest.raises(Conflict) as exc:
                await apply(s, plan, ACTOR)
    assert exc.value.code == "import_wrong_city"


async def test_a_plan_that_no_longer_fits_the_city_is_refused(rt, empty_city):
    """Doctors previewed against an existing hospital; the hospital goes before the apply."""
    await import_files(rt.db, empty_city, csv_files(DEMO_DIR), ACTOR)
    doctors = ImportFile("doctors.csv", "医院编码,科室编码,医生姓名\r\nSQ03,02,新医生\r\n".encode())
    plan = await _preview(rt, empty_city, [doctors])
    assert plan.ok and plan.counts() == {"doctors": {"created": 1, "updated": 0, "unchanged": 0}}
    with use_city(empty_city):
        async with rt.db.transaction() as s:
            hospital = (await s.scalars(select(Hospital).where(Hospital.code == "SQ03"))).one()
            hospital.code = "SQ03-old"
            await s.flush()
            with pytest.raises(ValidationFailed) as exc:
                await apply(s, plan, ACTOR)
    assert exc.value.code == "import_stale"
    assert exc.value.details[0]["code"] == "unknown_hospital"


async def test_a_sheet_without_a_required_column_does_not_cascade(rt, empty_city):
    """Hospitals lack 医院名称: one error; their campuses are not also called unknown."""
    files = [
        ImportFile("hospitals.csv", "医院编码,简称\r\nH1,一院\r\n".encode()),
        ImportFile("campuses.csv", "医院编码,院区名称\r\nH1,本部\r\n".encode()),
    ]
    plan = await _preview(rt, empty_city, files)
    assert [(e.sheet, e.row, e.column, e.code) for e in plan.errors] == [("hospitals", 1, "医院名称", "missing_column")]
    assert "hospital_name" not in plan.errors[0].message_en and "name" in plan.errors[0].message_en


async def test_encodings_excel_writes_in_china_are_read(rt, empty_city):
    plan, counts = await import_files(rt.db, empty_city, csv_files(FILES / "gb18030"), ACTOR)
    assert plan.errors == []
    assert counts["hospitals"]["created"] == 1 and counts["districts"]["created"] == 1
    with use_city(empty_city):
        async with rt.db.transaction() as s:
            h = (await s.scalars(select(Hospital))).one()
    assert (h.name, h.kind, h.level, h.address) == ("东城区和平社区卫生服务中心", "community", 1, "东城区和平里 40 号")
    text = "区县编码\t区县名称\r\n05\t北湖区\r\n"
    for data in (text.encode("utf-8"), "\ufeff".encode() + text.encode(), text.encode("utf-16")):
        plan = await _preview(rt, empty_city, [ImportFile("districts.csv", data)])
        assert plan.ok and plan.counts()["districts"]["created"] == 1


async def test_files_that_cannot_be_read_are_named(rt, empty_city):
    files = [
        ImportFile("districts.csv", b"\xff\xfe\x00\xd8"),  # a lone UTF-16 surrogate: no encoding fits
        ImportFile("old.xls", b"\xd0\xcf\x11\xe0" + b"\0" * 100),
        ImportFile("hospitals.pdf", b"%PDF-1.4"),
        ImportFile("broken.xlsx", b"PK\x03\x04 not really a zip"),
    ]
    plan = await _preview(rt, empty_city, files)
    assert [(e.source, e.code) for e in plan.errors] == [
        ("broken.xlsx", "bad_xlsx"), ("districts.csv", "bad_encoding"), ("hospitals.pdf", "unknown_file_type"),
        ("old.xls", "xls_not_supported"),
    ]
    plan = await _preview(rt, empty_city, [])
    assert [e.code for e in plan.errors] == ["no_files"]


async def test_size_limits(rt, empty_city):
    rows = "".join(f"{i:02d},区{i}\r\n" for i in range(30))
    big = ImportFile("districts.csv", f"区县编码,区县名称\r\n{rows}".encode())
    plan = await _preview(rt, empty_city, [big], limits=Limits(rows=20))
    assert [(e.code, e.sheet) for e in plan.errors] == [("too_many_rows", "districts")]
    assert "20" in plan.errors[0].message_zh
    plan = await _preview(rt, empty_city, [big], limits=Limits(file_bytes=100))
    assert [e.code for e in plan.errors] == ["file_too_large"]
    plan = await _preview(rt, empty_city, [big, big, big], limits=Limits(files=2))
    assert [e.code for e in plan.errors] == ["too_many_files"]
    plan = await _preview(rt, empty_city, [big, ImportFile("区县.csv", big.data)])
    assert [(e.source, e.code) for e in plan.errors] == [("区县.csv", "duplicate_sheet")]
