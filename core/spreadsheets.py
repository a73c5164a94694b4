"""Cells of exported files that a spreadsheet shows as written: text never runs as a formula.

Excel, WPS and LibreOffice read a cell starting with ``= + - @`` (or a tab or carriage return
before one) as a formula, so a hospital named ``=HYPERLINK(…)`` would become a live link, or
worse, in an operator's export. Every CSV and XLSX writer goes through these helpers:

- CSV: such text gets a leading apostrophe (``'=HYPERLINK(…)``), the mark spreadsheets read
  as "this is text"; :func:`plain_text` takes it off again, so an exported file imports back
  unchanged.
- XLSX: every text cell is written as a string, never a formula, and one starting with those
  characters carries the quote prefix, so it stays text when someone edits it in Excel.

Numbers stay numbers, negative ones too, and so does text that is just a negative number
(``-12.5``): nothing in it can run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NEGATIVE_NUMBER = re.compile(r"-\d+(\.\d+)?")


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet would read ``text`` as a formula (or a DDE call)."""
    return text[:1] in FORMULA_STARTS and not _NEGATIVE_NUMBER.fullmatch(text)


def csv_cell(value: Any) -> Any:
    """A value for ``csv.writer``: ``None`` is blank, formula-like text gets an apostrophe,
    anything else is unchanged."""
    if value is None:
        return ""
    if isinstance(value, str) and runs_as_formula(value):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a CSV row through :func:`csv_cell`."""
    return [csv_cell(v) for v in values]


def xlsx_append(ws, values: Iterable[Any]) -> None:
    """Append a row to an openpyxl worksheet with its text as text: a string is never stored
    as a formula, and formula-like text keeps the quote prefix for anyone editing the cell."""
    values = list(values)
    ws.append(values)
    for cell, value in zip(ws[ws.max_row], values, strict=False):
        if isinstance(value, str):
            cell.data_type = "s"
            if runs_as_formula(value):
                cell.quotePrefix = True


def plain_text(value: Any) -> Any:
    """What an imported cell says without the apostrophe an export put before formula-like
    text (``'=1+1`` → ``=1+1``); other values are unchanged."""
    if isinstance(value, str) and value[:1] == "'" and runs_as_formula(value[1:]):
        return value[1:]
    return value
