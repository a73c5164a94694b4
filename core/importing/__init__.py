"""Bulk import of a city's catalogue from CSV and XLSX (R11.1, R12.1): preview, then all or nothing.

Sheets (a workbook's sheets, or CSV files named after them): districts 区县, hospitals 医院,
campuses 院区, departments 科室, registration_types 号别, doctors 医生 — see
:mod:`core.importing.sheets` for their columns. Schedules (sessions) are not imported.

Typical use (the console and ``guahao city import``)::

    with use_city(city):
        async with db.transaction() as s:
            plan = await preview(s, [ImportFile(name, data), ...])   # every error, per row
            if plan.ok:
                counts = await apply(s, plan, actor)                 # one transaction, one audit entry
"""

from .apply import apply, import_files
from .export import catalogue_rows, csv_bytes, write_files, xlsx_bytes
from .messages import MESSAGES, RowError
from .plan import ImportPlan, RowAction, SheetPlan, preview
from .reader import ImportFile, Limits
from .sheets import SHEETS

__all__ = [
    "MESSAGES",
    "SHEETS",
    "ImportFile",
    "ImportPlan",
    "Limits",
    "RowAction",
    "RowError",
    "SheetPlan",
    "apply",
    "catalogue_rows",
    "csv_bytes",
    "import_files",
    "preview",
    "write_files",
    "xlsx_bytes",
]
