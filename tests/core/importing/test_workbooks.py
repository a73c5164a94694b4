"""What spreadsheets do to data: formulas, merged cells, numbers in code columns, blank rows,
extra sheets, Chinese sheet names."""

from __future__ import annotations

import io
import re
import zipfile

from openpyxl import Workbook

from guahao.core.importing import ImportFile, import_files, preview
from guahao.tenants.context import use_city

from .conftest import ACTOR, snapshot


def _xlsx(sheets: dict[str, list[list]], merge: dict[str, list[str]] | None = None) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
        for rng in (merge or {}).get(name, []):
            ws.merge_cells(rng)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _with_cached_values(data: bytes, values: dict[str, str]) -> bytes:
    """The workbook as Excel would save it: formulas carry their computed value."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                text = body.decode()
                for ref, value in values.items():
                    text = re.sub(rf'(<c r="{ref}"[^>]*>)(<f>[^<]*</f>)<v\s*/?>(</v>)?', rf"\1\2<v>{value}</v>", text)
                body = text.encode()
            dst.writestr(item, body)
    return out.getvalue()


HOSPITAL = ["医院编码", "医院名称", "区县编码"]
DOCTORS = ["医院编码", "科室编码", "医生姓名", "职称"]


async def _preview(rt, city, data: bytes, name: str = "catalogue.xlsx"):
    with use_city(city):
        async with rt.db.transaction() as s:
            return await preview(s, [ImportFile(name, data)])


async def test_chinese_sheet_names_merged_cells_and_trailing_blank_rows(rt, empty_city):
    """A hospital code merged down over its doctors' rows belongs to every one of them."""
    data = _xlsx(
        {
            "区县": [["区县编码", "区县名称"], ["01", "东城区"]],
            "医院": [HOSPITAL, ["H1", "第一医院", "01"]],
            "科室": [["医院编码", "科室编码", "科室名称"], ["H1", "03.01", "呼吸内科"]],
            "医生": [DOCTORS, ["H1", "03.01", "王建国", "主任医师"], [None, "03.01", "李秀英", "主治医师"],
                   [None, "03.01", "张伟", "住院医师"], [], [None, None, None, None], ["", " ", "", ""]],
            "填写说明": [["每个工作表的第一行是表头。"]],
        },
        merge={"医生": ["A2:A4"]},
    )
    plan, counts = await import_files(rt.db, empty_city, [ImportFile("目录.xlsx", data)], ACTOR)
    assert plan.errors == []
    assert sorted(w.code for w in plan.warnings) == ["ignored_sheet", "merged_cells"]
    assert counts["doctors"] == {"created": 3, "updated": 0, "unchanged": 0}
    assert next(s for s in plan.sheets if s.name == "doctors").rows == 3
    doctors = (await snapshot(rt, empty_city))["doctors"]
    assert [(d[0], d[2], d[3]) for d in doctors] == [
        ("H1", "张伟", "resident"), ("H1", "李秀英", "attending"), ("H1", "王建国", "chief")]


async def test_formulas_give_their_computed_value_or_an_error(rt, empty_city):
    data = _xlsx({
        "hospitals": [HOSPITAL, ["H1", "第一医院", None]],
        "registration_types": [["医院编码", "号别编码", "号别名称", "挂号费（元）"],
                               ["H1", "expert", "专家门诊", "=40+10"], ["H1", "general", "普通门诊", "=5*2"]],
    })
    plan = await _preview(rt, empty_city, data)
    assert [(e.row, e.cell, e.code) for e in plan.errors] == [
        (2, "D2", "formula_without_value"), (3, "D3", "formula_without_value")]
    plan, counts = await import_files(
        rt.db, empty_city, [ImportFile("fees.xlsx", _with_cached_values(data, {"D2": "50", "D3": "10"}))], ACTOR)
    assert plan.errors == []
    fees = (await snapshot(rt, empty_city))["registration_types"]
    assert [(t[1], t[3]) for t in fees] == [("expert", "5000"), ("general", "1000")]


async def test_a_number_in_a_code_column_is_refused_with_advice(rt, empty_city):
    """Typed into a General-format cell, 01 becomes 1 and 03.10 becomes 3.1: not guessed."""
    data = _xlsx({
        "districts": [["code", "name"], [1, "东城区"]],
        "departments": [["hospital_code", "department_code", "name"], ["H1", 3.1, "呼吸内科"]],
        "hospitals": [["code", "name", "phone", "level"], ["H1", "第一医院", 1012345678, 3]],
    })
    plan = await _preview(rt, empty_city, data)
    assert [(e.sheet, e.cell, e.code) for e in plan.errors] == [
        ("districts", "A2", "number_in_code_column"), ("departments", "B2", "number_in_code_column")]
    assert "文本" in plan.errors[0].message_zh and "Text" in plan.errors[0].message_en


async def test_an_unknown_workbook_is_an_error_not_silence(rt, empty_city):
    plan = await _preview(rt, empty_city, _xlsx({"Sheet1": [["a", "b"], [1, 2]]}))
    assert [(e.code, e.source) for e in plan.errors] == [("unknown_sheet", "catalogue.xlsx")]
