"""A city's catalogue as import files: one CSV per sheet and one XLSX with every sheet.

What is exported imports back unchanged, so an operator can export, edit in Excel and
import. CSV files are UTF-8 with a BOM (Excel in China opens them without garbling the
Chinese); in the workbook the code columns are formatted as text so Excel keeps their
leading zeros. No text becomes a formula in a spreadsheet (``core.spreadsheets``: an apostrophe
in CSV, which the reader takes off again; string cells in the workbook). Output is
deterministic: the same catalogue gives the same files.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.spreadsheets import csv_row, xlsx_append

from .sheets import SHEETS, Sheet

Rows = dict[str, list[list[str]]]  # sheet name → header row, then data rows


async def catalogue_rows(session: AsyncSession) -> Rows:
    """Every sheet of the current city's catalogue, rows in the order they were created."""
    rows = {s.name: (await session.scalars(select(s.model).order_by(s.model.id))).all() for s in SHEETS}
    codes = {
        "district_code": {d.id: d.code for d in rows["districts"]},
        "hospital_code": {h.id: h.code for h in rows["hospitals"]},
        "department_code": {d.id: d.code for d in rows["departments"]},
    }
    ids = {"district_code": "district_id", "hospital_code": "hospital_id", "department_code": "department_id"}

    def value(obj, name: str):
        if name in ids:
            return codes[name].get(getattr(obj, ids[name]))
        return getattr(obj, name)

    return {
        sheet.name: [_header(sheet)] + [_row(sheet, {c.field: value(obj, c.field) for c in sheet.columns})
                                        for obj in rows[sheet.name]]
        for sheet in SHEETS
    }


def _header(sheet: Sheet) -> list[str]:
    return [c.header for c in sheet.columns]


def _row(sheet: Sheet, record: dict) -> list[str]:
    return ["" if record[c.field] is None else c.label(record[c.field]) for c in sheet.columns]


def csv_bytes(rows: list[list[str]]) -> bytes:
    """One sheet as CSV: UTF-8 with BOM, CRLF line ends (what Excel writes)."""
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(csv_row(r) for r in rows)
    return "\ufeff".encode() + buf.getvalue().encode()


FIXED_TIME = datetime(2024, 1, 1)


def xlsx_bytes(sheets: Rows) -> bytes:
    """Every sheet in one workbook: bold frozen header, text-formatted code columns,
    readable column widths."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "guahao"
    wb.properties.created = wb.properties.modified = FIXED_TIME
    by_name = {s.name: s for s in SHEETS}
    for name, rows in sheets.items():
        sheet = by_name[name]
        ws = wb.create_sheet(name)
        for row in rows:
            xlsx_append(ws, row)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for index, column in enumerate(sheet.columns, start=1):
            letter = ws.cell(row=1, column=index).column_letter
            widest = max((len(str(r[index - 1])) for r in rows[:200]), default=4)
            ws.column_dimensions[letter].width = min(60, max(8, widest * 2 + 2))
            if column.code:
                for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = "@"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_files(sheets: Rows, directory: str | Path, *, workbook: str = "catalogue.xlsx") -> list[Path]:
    """Write ``<sheet>.csv`` for every sheet and ``workbook`` with all of them; returns the
    paths written."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in sheets.items():
        path = out / f"{name}.csv"
        path.write_bytes(csv_bytes(rows))
        written.append(path)
    path = out / workbook
    path.write_bytes(xlsx_bytes(sheets))
    written.append(path)
    return written
