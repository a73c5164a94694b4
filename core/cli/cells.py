"""``guahao cell add|list`` and ``guahao city move``: database cells (``core.cells``)."""

from __future__ import annotations

import argparse

from .backup import _city_subcommands
from .common import CliError, add_command, run

CELL_EXAMPLES = """\
examples:
  guahao cell add east postgresql://guahao@db-east:5432/guahao
  guahao cell list

A cell is a PostgreSQL database (its own cluster, behind its pgbouncer) that holds whole
cities. `cell add` brings it to the platform's schema, gives its ids a range of their own and
adds it to the directory in the platform database (DATABASE_URL). The URL is the owner's
login; it is stored sealed with the data key.
"""

MOVE_EXAMPLES = """\
examples:
  guahao city move hz --to east        # copy, verify, switch; writes wait during the copy
  guahao city move hz --drop-old       # after checking the city on its new cell

The city's writes are refused with 503 and Retry-After while its rows are copied (reads go
on); every table's row count and checksum is compared before the directory switches. The old
copy stays until --drop-old.
"""


async def _add(rt, name: str, url: str) -> int:
    from guahao.core.cells import add_cell
    from guahao.tenants.cells import CellError

    try:
        ordinal = await add_cell(rt, name, url)
    except CellError as exc:
        raise CliError(str(exc)) from None
    print(f"added cell {name} (ordinal {ordinal}); move cities to it with `guahao city move CITY --to {name}`")
    return 0


async def _list(rt) -> int:
    from guahao.tenants import cells

    urls = await cells.owner_urls(rt.db)
    ords = await cells.ordinals(rt.db)
    cities = await cells.cities_by_cell(rt.db)
    print(f"{'cell':<16} {'ordinal':>7}  {'cities':>6}  url")
    print(f"{'(platform)':<16} {0:>7}  {len(cities.get('', [])):>6}  {cells.masked(rt.settings.owner_url)}")
    for name in sorted(urls):
        print(f"{name:<16} {ords[name]:>7}  {len(cities.get(name, [])):>6}  {cells.masked(urls[name])}")
    return 0


async def _move(rt, slug: str, to: str | None, drop_old: bool) -> int:
    from guahao.core.cells import BackupError, CellError, drop_old_copy, move_city

    try:
        if drop_old:
            cleaned = await drop_old_copy(rt, slug)
            if not cleaned:
                raise CliError(f"no old copy of {slug!r} to drop")
            print(f"dropped the old copy of {slug} from " + ", ".join(c or "(platform database)" for c in cleaned))
            return 0
        report = await move_city(rt, slug, to or "")
    except (CellError, BackupError) as exc:
        raise CliError(str(exc)) from None
    print("\n".join(report.lines()))
    return 0


def add_cell_commands(subs, epilog: str) -> None:
    """Add ``cell add|list`` and ``city move`` (after the city commands)."""
    p = subs.add_parser("cell", help="Database cells: PostgreSQL databases that hold whole cities.",
                        description="Database cells: PostgreSQL databases that hold whole cities.", epilog=CELL_EXAMPLES,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    cell_subs = p.add_subparsers(dest="cell_command", required=True, metavar="ACTION")
    a = add_command(cell_subs, "add", "Migrate a database and add it to the directory as a cell.",
                    lambda args: run(_add, args.name, args.url), CELL_EXAMPLES)
    a.add_argument("name", help="the cell's name (lower-case letters, digits, - and _)")
    a.add_argument("url", help="the cell's PostgreSQL URL (owner login)")
    add_command(cell_subs, "list", "List the cells and how many cities each holds.", lambda args: run(_list), CELL_EXAMPLES)
    m = add_command(_city_subcommands(subs), "move", "Move a city to another database cell (copy, verify, switch).",
                    lambda args: run(_move, args.city, args.to, args.drop_old), MOVE_EXAMPLES)
    m.add_argument("city", help="the city's slug")
    target = m.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="CELL", help="the cell to move the city to")
    target.add_argument("--drop-old", action="store_true", help="delete the copy a finished move left behind")
