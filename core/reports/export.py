"""Reports as files: CSV for anything, XLSX for Excel users (R13.8).

Both write the zh-CN column labels with the English ones beneath them in the header, one
row per group and the totals row last. Rates are written as fractions (0.125) — Excel shows
them as percentages, a CSV reader gets the exact value. Text is written so that no spreadsheet
runs it as a formula (``core.spreadsheets``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from guahao.core.spreadsheets import csv_row, xlsx_append

from .base import Report


def _header(report: Report) -> list[str]:
    return [f"{c.zh} / {c.en}" if c.zh != c.en else c.zh for c in report.columns]


def _cells(report: Report, row: dict[str, Any]) -> list[Any]:
    return [row.get(c.key) for c in report.columns]


def _title(report: Report) -> str:
    f = report.filter
    return f"{report.title_zh} {report.title_en} {f.date_from.isoformat()}–{f.date_to.isoformat()}"


def to_csv(report: Report) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Chinese labels correctly."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(csv_row(_header(report)))
    for row in [*report.rows, report.totals]:
        w.writerow(csv_row(_cells(report, row)))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(report: Report) -> bytes:
    """One sheet: a title line, a bold header, numbers as numbers (rates as percentages),
    the totals row in bold, column widths fitted to the text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = report.title_zh[:31]
    xlsx_append(ws, [_title(report)])
    ws["A1"].font = Font(bold=True, size=12)
    xlsx_append(ws, _header(report))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    formats = {"rate": "0.0%", "score": "0.00", "hours": "0.0", "int": "#,##0"}
    for row in [*report.rows, report.totals]:
        xlsx_append(ws, _cells(report, row))
        for cell, column in zip(ws[ws.max_row], report.columns, strict=False):
            if column.kind in formats and isinstance(cell.value, (int, float)):
                cell.number_format = formats[column.kind]
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    ws.freeze_panes = "B3"
    for i, column in enumerate(report.columns, start=1):
        texts = [_header(report)[i - 1]] + [str(r.get(column.key) or "") for r in report.rows[:500]]
        width = max(_display_width(t) for t in texts)
        ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _display_width(text: str) -> int:
    """Columns a text takes in Excel: CJK characters are about two wide."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
