"""``guahao usage verify CITY`` and ``guahao usage export CITY --period 2026-11``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from guahao.core.cli.common import CliError, add_command, find_city, run

EXAMPLES = """\
examples:
  guahao usage verify demo
  guahao usage export demo --period 2026-11 --format xlsx --out usage-demo-2026-11.xlsx
  guahao usage backfill demo
"""


async def _verify(rt, slug: str):
    from guahao.plugin_api import city_session

    from ..ledger.verify import verify

    city = await find_city(rt, slug)
    started = time.perf_counter()
    async with city_session(rt, city) as s:
        verdict = await verify(s)
    return verdict, time.perf_counter() - started


def cmd_verify(args) -> int:
    verdict, seconds = run(_verify, args.city)
    if verdict.ok:
        print(f"{args.city}: the usage ledger is intact ({verdict.rows} rows checked in {seconds:.1f} s)")
        return 0
    where = f"row {verdict.bad_seq}" + (f" (id {verdict.bad_id})" if verdict.bad_id is not None else "")
    print(f"{args.city}: the usage ledger does not match at {where}: {verdict.problem}", file=sys.stderr)
    return 1


async def _export(rt, slug: str, period: str, fmt: str) -> bytes:
    from guahao.plugin_api import city_session

    from ..ledger.export import export
    from ..ledger.periods import PeriodInvalid, month_bounds, parse_month

    city = await find_city(rt, slug)
    try:
        start, end = month_bounds(city.tz, parse_month(period))
    except PeriodInvalid as exc:
        raise CliError(str(exc)) from None
    async with city_session(rt, city) as s:
        return await export(s, start, end, fmt)


def cmd_export(args) -> int:
    data = run(_export, args.city, args.period, args.format)
    if args.out:
        Path(args.out).write_bytes(data)
        print(f"wrote {args.out} ({len(data)} bytes)")
    elif args.format == "xlsx":
        raise CliError("an XLSX file needs --out FILE")
    else:
        sys.stdout.write(data.decode("utf-8-sig"))
    return 0


async def _backfill(rt, slug: str):
    from ..backfill import backfill

    return await backfill(rt, await find_city(rt, slug))


def cmd_backfill(args) -> int:
    started = time.perf_counter()
    done = run(_backfill, args.city)
    print(f"{args.city}: {done.total} ledger rows added ({done.bookings} from bookings, {done.messages} from messages, "
          f"{done.members} from registrations) in {time.perf_counter() - started:.1f} s")
    return 0


def add_usage_commands(subs) -> None:
    usage = add_command(subs, "usage", "Check or export a city's usage ledger (metering, R14.3).", None, EXAMPLES)
    inner = usage.add_subparsers(dest="usage_command", metavar="ACTION", required=True)
    p = add_command(inner, "verify", "Recompute the city's hash chain; exit 1 naming the first row that does not match.",
                    cmd_verify, "example:\n  guahao usage verify demo")
    p.add_argument("city", help="the city's slug")
    p = add_command(inner, "export", "Write one row per ledger event of a month (CSV to stdout, or --out FILE).",
                    cmd_export, "example:\n  guahao usage export demo --period 2026-11 --format csv")
    p.add_argument("city", help="the city's slug")
    p.add_argument("--period", required=True, help="the month, YYYY-MM (the city's local calendar)")
    p.add_argument("--format", choices=("csv", "xlsx"), default="csv", help="file format (default csv)")
    p.add_argument("--out", help="file to write (default: CSV to standard output)")
    p = add_command(inner, "backfill", "Count the city's past from its own records (bookings, messages, members) "
                    "that the ledger lacks; what is already counted is left out.", cmd_backfill,
                    "example:\n  guahao usage backfill demo")
    p.add_argument("city", help="the city's slug")
