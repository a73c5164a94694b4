"""Files → tables of cells: CSV (UTF-8 with or without BOM, GB18030, UTF-16) and XLSX.

A workbook gives one table per worksheet; a CSV file is one table named after the file
(``doctors.csv``, ``医生.csv``). Rows keep the number Excel shows (header = row 1), blank
rows included in the count and otherwise skipped. In a workbook, formulas give their
computed value and merged cells read as their top-left value in every cell. Text an export
wrote with a leading apostrophe so that no spreadsheet runs it (``'=…``) reads without it.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from guahao.core.spreadsheets import plain_text

from .messages import RowError, problem


@dataclass(frozen=True)
class Limits:
    """How much one import may hold; beyond it the import is refused with a clear error."""

    files: int = 12
    file_bytes: int = 10 * 1024 * 1024
    unpacked_bytes: int = 200 * 1024 * 1024  # an XLSX is a zip: bound what it inflates to
    rows: int = 20_000  # data rows per sheet


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class ImportFile:
    """An uploaded or local file: its name (which says CSV or XLSX, and for CSV the sheet)
    and its bytes."""

    name: str
    data: bytes

    @classmethod
    def from_path(cls, path: str | Path) -> ImportFile:
        p = Path(path)
        return cls(p.name, p.read_bytes())


class FormulaWithoutValue:
    """A formula cell the file holds no computed value for (written by a program, never
    opened in Excel)."""

    def __repr__(self) -> str:
        return "FORMULA_WITHOUT_VALUE"


FORMULA_WITHOUT_VALUE = FormulaWithoutValue()


@dataclass
class Table:
    """The cells of one sheet: ``rows`` holds (Excel row number, cells) of non-blank rows,
    the header first."""

    source: str
    name: str
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)


def _blank(cells: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def read_file(f: ImportFile, limits: Limits, errors: list[RowError]) -> list[Table]:
    """The tables of one file; problems that stop reading it go to ``errors``."""
    if len(f.data) > limits.file_bytes:
        errors.append(problem("file_too_large", source=f.name, limit_mb=limits.file_bytes // (1024 * 1024)))
        return []
    suffix = PurePath(f.name).suffix.lower()
    if f.data.startswith(b"\xd0\xcf\x11\xe0") or suffix == ".xls":
        errors.append(problem("xls_not_supported", source=f.name))
        return []
    if suffix in (".xlsx", ".xlsm") or f.data.startswith(b"PK\x03\x04"):
        return _read_xlsx(f, limits, errors)
    if suffix in (".csv", ".txt"):
        table = _read_csv(f, limits, errors)
        return [table] if table is not None else []
    errors.append(problem("unknown_file_type", source=f.name))
    return []


def decode_csv(data: bytes) -> str | None:
    """The text of a CSV file: UTF-16 when it has that BOM, else UTF-8 (BOM optional), else
    GB18030 (what Excel on a Chinese Windows writes); ``None`` when none fits."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _read_csv(f: ImportFile, limits: Limits, errors: list[RowError]) -> Table | None:
    text = decode_csv(f.data)
    if text is None:
        errors.append(problem("bad_encoding", source=f.name))
        return None
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first and "," not in first else ","
    table = Table(f.name, PurePath(f.name).stem)
    data_rows = 0
    try:
        for number, cells in enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1):
            if _blank(cells):
                continue
            if table.rows:
                data_rows += 1
                if data_rows > limits.rows:
                    errors.append(problem("too_many_rows", source=f.name, sheet=table.name, limit=limits.rows))
                    return None
            table.rows.append((number, [plain_text(c) for c in cells]))
    except csv.Error as exc:
        errors.append(problem("bad_csv", source=f.name, detail=str(exc)))
        return None
    return table


def _read_xlsx(f: ImportFile, limits: Limits, errors: list[RowError]) -> list[Table]:
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(f.data)) as z:
            if sum(i.file_size for i in z.infolist()) > limits.unpacked_bytes:
                errors.append(problem("file_too_large", source=f.name, limit_mb=limits.unpacked_bytes // (1024 * 1024)))
                return []
        workbook = load_workbook(io.BytesIO(f.data), data_only=False)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        errors.append(problem("bad_xlsx", source=f.name, detail=type(exc).__name__))
        return []
    computed = _Computed(f.data)
    tables = []
    for ws in workbook.worksheets:
        table = _read_worksheet(f.name, ws, computed, limits, errors)
        if table is not None:
            tables.append(table)
    return tables


class _Computed:
    """The values Excel computed for formula cells: a second read of the file, made only
    when a formula is met (most catalogue files have none)."""

    def __init__(self, data: bytes):
        self.data = data
        self.workbook = None

    def __call__(self, sheet: str, coordinate: str) -> Any:
        if self.workbook is None:
            from openpyxl import load_workbook

            self.workbook = load_workbook(io.BytesIO(self.data), data_only=True)
        value = self.workbook[sheet][coordinate].value
        return FORMULA_WITHOUT_VALUE if value is None else value


def _read_worksheet(source: str, ws, computed: _Computed, limits: Limits, errors: list[RowError]) -> Table | None:
    table = Table(source, ws.title)
    grid: dict[int, list[Any]] = {}
    for cells in ws.iter_rows():
        if cells:
            grid[cells[0].row] = [computed(ws.title, c.coordinate) if c.data_type == "f" else plain_text(c.value)
                                  for c in cells]
    for rng in ws.merged_cells.ranges:
        top = grid.get(rng.min_row, [])
        value = top[rng.min_col - 1] if rng.min_col - 1 < len(top) else None
        for r in range(rng.min_row, rng.max_row + 1):
            cells = grid.setdefault(r, [])
            cells.extend([None] * (rng.max_col - len(cells)))
            for c in range(rng.min_col, rng.max_col + 1):
                cells[c - 1] = value
        table.merged.append(rng.coord)
    data_rows = 0
    for number in sorted(grid):
        cells = grid[number]
        if _blank(cells):
            continue
        if table.rows:
            data_rows += 1
            if data_rows > limits.rows:
                errors.append(problem("too_many_rows", source=source, sheet=ws.title, limit=limits.rows))
                return None
        table.rows.append((number, cells))
    return table
