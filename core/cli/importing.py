"""``guahao city import``: load a city's catalogue from CSV/XLSX files, all or nothing."""

from __future__ import annotations

import getpass
from pathlib import Path

from .common import CliError, add_command, find_city, pad, run


async def _city_import(rt, args) -> tuple[list[str], bool]:
    from guahao.core.audit import Actor
    from guahao.core.importing import ImportFile, import_files

    city = await find_city(rt, args.slug)
    files = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise CliError(f"no file {name!r}")
        files.append(ImportFile.from_path(path))
    actor = Actor("system", name=f"guahao city import ({getpass.getuser()})", role="cli")
    plan, counts = await import_files(rt.db, city, files, actor, dry_run=args.dry_run)
    lines = [pad("sheet", 22) + pad("rows", 7) + pad("create", 8) + pad("update", 8) + "unchanged"]
    for s in plan.sheets:
        lines.append(pad(f"{s.name} {s.title}", 22) + pad(str(s.rows), 7) + pad(str(s.created), 8)
                     + pad(str(s.updated), 8) + str(s.unchanged))
    lines += [f"warning: {w.line()}" for w in plan.warnings]
    if plan.errors:
        lines += [f"error: {e.line()}" for e in plan.errors]
        lines.append(f"{len(plan.errors)} errors: nothing imported into {city.slug} / 有 {len(plan.errors)} 处错误，未导入")
        return lines, False
    if counts is None:
        lines.append(f"dry run: nothing written to {city.slug} (run without --dry-run to import)")
    else:
        lines.append(f"imported into {city.slug} ({city.name})")
    return lines, True


def cmd_city_import(args) -> int:
    lines, ok = run(_city_import, args)
    print("\n".join(lines))
    return 0 if ok else 1


def add_import_command(csubs) -> None:
    """Add ``city import`` to the ``city`` sub-commands."""
    p = add_command(
        csubs, "import",
        "Import a city's catalogue (districts, hospitals, campuses, departments, fees, doctors) from CSV/XLSX, "
        "all or nothing.",
        cmd_city_import,
        "examples:\n  guahao city import hz core/demo/import_files/demo.xlsx --dry-run\n"
        "  guahao city import hz core/demo/import_files/*.csv\n\n"
        "CSV files are named after their sheet (districts.csv, hospitals.csv, campuses.csv, departments.csv,\n"
        "registration_types.csv, doctors.csv, or 区县/医院/院区/科室/号别/医生.csv); a workbook has those sheets.\n"
        "Rows are matched by code (doctors by hospital, department and name): new rows are created, changed\n"
        "rows updated. Any error refuses the whole import and every error is listed (exit code 1).",
    )
    p.add_argument("slug", help="the city")
    p.add_argument("files", nargs="+", metavar="FILE", help="CSV or XLSX files")
    p.add_argument("--dry-run", action="store_true", help="check and show what would change; write nothing")
