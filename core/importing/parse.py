"""Tables of cells → rows of checked values, one sheet at a time.

Everything that can be checked without the database is checked here: which sheet a table
is, its headers, every cell (required, type, enumeration, length) and duplicate keys
inside the file. Every problem is collected; nothing stops at the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Sequence

from .messages import RowError, problem
from .reader import FORMULA_WITHOUT_VALUE, ImportFile, Limits, Table, read_file
from .sheets import SHEETS, Column, Invalid, Sheet, normalize_name, sheet_named


@dataclass
class ParsedRow:
    """One data row: its Excel row number, the values of the columns the file has, its
    natural key (``None`` when a key cell is wrong) and whether every cell was good."""

    row: int
    values: dict[str, Any]
    key: tuple | None
    ok: bool


@dataclass
class ParsedSheet:
    """The rows of one sheet. ``broken``: its headers were wrong, so its rows are unknown
    (references to it are not reported as missing; the header error says why)."""

    sheet: Sheet
    source: str
    rows: list[ParsedRow] = field(default_factory=list)
    broken: bool = False
    headers: dict[str, tuple[int, str]] = field(default_factory=dict)  # field → (cell index, header)

    def keys(self) -> set[tuple]:
        return {r.key for r in self.rows if r.key is not None}


@dataclass
class Parsed:
    """What the files say, checked on their own: sheets by name, errors, warnings."""

    sheets: dict[str, ParsedSheet] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def parse_files(files: Sequence[ImportFile], limits: Limits) -> Parsed:
    """Read and check every file; see the module docstring."""
    out = Parsed(files=[f.name for f in files])
    if not files:
        out.errors.append(problem("no_files"))
        return out
    if len(files) > limits.files:
        out.errors.append(problem("too_many_files", limit=limits.files))
        return out
    known = "、".join(f"{s.title}（{s.name}）" for s in SHEETS)
    for f in files:
        tables = read_file(f, limits, out.errors)
        recognised = [t for t in tables if sheet_named(t.name) is not None]
        for table in tables:
            sheet = sheet_named(table.name)
            if sheet is None:
                if recognised:  # a notes sheet beside the data: not ours to read
                    out.warnings.append(problem("ignored_sheet", source=f.name, sheet=table.name, name=table.name))
                else:
                    out.errors.append(problem("unknown_sheet", source=f.name, name=table.name, known=known))
                continue
            if sheet.name in out.sheets:
                other = out.sheets[sheet.name].source
                out.errors.append(
                    problem("duplicate_sheet", source=f.name, sheet=sheet.name, name=table.name, other=other)
                )
                continue
            out.sheets[sheet.name] = _parse_table(sheet, table, out)
    return out


def _parse_table(sheet: Sheet, table: Table, out: Parsed) -> ParsedSheet:
    parsed = ParsedSheet(sheet, table.source)
    where = dict(source=table.source, sheet=sheet.name)
    if not table.rows:
        out.warnings.append(problem("empty_sheet", **where))
        return parsed
    if table.merged:
        shown = ", ".join(table.merged[:5]) + (" …" if len(table.merged) > 5 else "")
        out.warnings.append(problem("merged_cells", **where, range=shown))
    header_row, header = table.rows[0]
    columns = _map_headers(sheet, header_row, header, where, out)
    if columns is None:
        parsed.broken = True
        return parsed
    parsed.headers = {column.field: (index, written) for index, written, column in columns}
    seen: dict[tuple, int] = {}
    for number, cells in table.rows[1:]:
        row = _parse_row(sheet, number, cells, columns, where, out.errors)
        if row.key is not None:
            if row.key in seen:
                key = " / ".join(str(k) for k in row.key)
                out.errors.append(problem("duplicate_row", **where, row=number, other=seen[row.key], key=key))
                row.ok = False
            else:
                seen[row.key] = number
        parsed.rows.append(row)
    return parsed


def _map_headers(
    sheet: Sheet, header_row: int, header: list[Any], where: dict, out: Parsed
) -> list[tuple[int, str, Column]] | None:
    """(cell index, header as written, column) for each recognised header; ``None`` when a
    required column is missing or a column is given twice."""
    by_name = {normalize_name(n): c for c in sheet.columns for n in (c.header, c.field, *c.aliases)}
    found: dict[str, tuple[int, str, Column]] = {}
    ok = True
    for index, cell in enumerate(header):
        written = _text(cell)
        if not written:
            continue
        column = by_name.get(normalize_name(written))
        if column is None:
            out.warnings.append(
                problem("unknown_column", **where, row=header_row, column=written, column_index=index, header=written)
            )
        elif column.field in found:
            out.errors.append(
                problem("duplicate_column", **where, row=header_row, column=written, column_index=index, header=written)
            )
            ok = False
        else:
            found[column.field] = (index, written, column)
    for column in sheet.columns:
        if column.required and column.field not in found:
            out.errors.append(
                problem("missing_column", **where, row=header_row, column=column.header, header=column.header,
                        english=column.english)
            )
            ok = False
    return list(found.values()) if ok else None


def _text(value: Any) -> str:
    """A cell as text: numbers without a spurious ``.0``, dates in ISO form, spaces trimmed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value).strip()


def _parse_row(
    sheet: Sheet, number: int, cells: list[Any], columns: list[tuple[int, str, Column]], where: dict,
    errors: list[RowError],
) -> ParsedRow:
    values: dict[str, Any] = {}
    ok = True
    for index, written, column in columns:
        raw = cells[index] if index < len(cells) else None
        at = dict(where, row=number, column=written, column_index=index)
        if raw is FORMULA_WITHOUT_VALUE:
            errors.append(problem("formula_without_value", **at))
            ok = False
            continue
        if column.code and isinstance(raw, (int, float)) and not isinstance(raw, bool):
            errors.append(problem("number_in_code_column", **at, value=_text(raw)))
            ok = False
            continue
        text = _text(raw)
        if not text:
            if column.required:
                errors.append(problem("missing_value", **at))
                ok = False
            else:
                values[column.field] = column.default
            continue
        if column.max_length is not None and len(text) > column.max_length:
            errors.append(problem("too_long", **at, value=text, length=len(text), limit=column.max_length))
            ok = False
            continue
        try:
            values[column.field] = column.parse(text)
        except Invalid as exc:
            errors.append(problem(exc.code, **at, value=text, **exc.params))
            ok = False
    key = tuple(values.get(k) for k in sheet.key)
    return ParsedRow(number, values, key if all(v is not None for v in key) else None, ok)
