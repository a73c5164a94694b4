"""``guahao his status|sync|reconcile``: each hospital's HIS, a schedule pull now, the
differences of a day (``core.his``).

The ``his`` group is shared: a module adding HIS commands (``his set`` in ``his_config``) calls
:func:`his_commands` with the top-level sub-commands and adds its own to what it returns; the
group is made on the first call, with ``status``, ``sync`` and ``reconcile``, whichever module
comes first.
"""

from __future__ import annotations

import argparse
import json
from datetime import date

import guahao.core.his  # noqa: F401  (adds the his.sync outbox handler to this process)
from guahao.core.errors import DomainError

from .common import CliError, add_command, find_city, pad, run

GROUP_HELP = "Hospital information systems: status, schedule pulls, reconciliation, settings."
EXAMPLES = """\
examples:
  guahao his status demo                     # every hospital's adapter, last pull, pushes owed, health
  guahao his status demo --json
  guahao his sync demo                       # pull every hospital's schedule for its booking window now
  guahao his sync demo H1 --from 2026-03-02 --to 2026-03-08
  guahao his sync demo H1 --visits --day 2026-03-02   # the visit sweep of a day
  guahao his reconcile demo H1 --date 2026-03-02 [--json | --csv]
"""


def command_group(subs, name: str, help: str, epilog: str = "") -> argparse._SubParsersAction:
    """The sub-commands of the top-level command ``name``, made by the first caller."""
    parser = subs.choices.get(name)
    if parser is None:
        parser = subs.add_parser(name, help=help, description=help, epilog=epilog,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def his_commands(subs) -> argparse._SubParsersAction:
    """The ``guahao his`` group's sub-commands (shared with ``his set``): made on the first
    call, with ``status``, ``sync`` and ``reconcile`` in it."""
    made = "his" not in subs.choices
    group = command_group(subs, "his", GROUP_HELP, EXAMPLES)
    if made:
        _add_sync_commands(group)
    return group


def _day(text: str | None, what: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None


async def _hospital(rt, code: str):
    from sqlalchemy import select

    from guahao.core.models import Hospital

    async with rt.db.transaction() as s:
        found = await s.scalar(select(Hospital).where(Hospital.code == code))
    if found is None:
        raise CliError(f"no hospital {code!r} in this city")
    return found


async def _status(rt, args) -> str:
    from guahao.core.his.status import his_status
    from guahao.tenants.context import use_city

    city = await find_city(rt, args.city)
    with use_city(city):
        rows = await his_status(rt, check=not args.no_check)
    if args.json:
        return json.dumps({"city": city.slug, "hospitals": [r.as_dict() for r in rows]}, ensure_ascii=False, indent=2)
    lines = [f"{city.slug}: {sum(r.degraded for r in rows)} of {len(rows)} hospitals degraded"]
    for r in rows:
        sync = r.last_sync
        last = f"{sync['outcome']} {sync['at'][:16]}" if sync else "never"
        health = "-" if r.health is None else ("ok" if r.health["ok"] else "DOWN")
        owed = r.pushes["waiting"] + r.pushes["retrying"] + r.pushes["failing"]
        lines.append(f"  {pad(r.code, 10)}{pad(r.name, 24)}{pad(r.adapter or '-', 12)}sync {pad(last, 24)}"
                     f"pushes owed {owed:>3} failed {r.pushes['failed']:>3}  health {pad(health, 5)}"
                     f"{'DEGRADED: ' + '; '.join(r.reasons) if r.degraded else 'ok'}")
    return "\n".join(lines)


async def _sync(rt, args) -> str:
    from sqlalchemy import select

    from guahao.core.his.sync import SyncFailed, adapter_for, sweep_visits, sync_schedules, today
    from guahao.core.models import Hospital
    from guahao.tenants.context import use_city

    city = await find_city(rt, args.city)
    start, end, day = _day(args.date_from, "--from"), _day(args.date_to, "--to"), _day(args.day, "--day")
    if start and end and end < start:
        raise CliError("--to is before --from")
    lines, failed = [], 0
    with use_city(city):
        plugins = await rt.plugins.for_city(city)
        if args.hospital:
            hospitals = [await _hospital(rt, args.hospital)]
        else:
            async with rt.db.transaction() as s:
                hospitals = list((await s.scalars(select(Hospital).where(Hospital.active.is_(True))
                                                  .order_by(Hospital.code))).all())
            wanted = "visits" if args.visits else "schedules"
            hospitals = [h for h in hospitals if (a := adapter_for(plugins, h)) is not None and a.supports(wanted)]
        for h in hospitals:
            try:
                if args.visits:
                    run_ = await sweep_visits(rt, h.id, day or today(), trigger="cli", plugins=plugins)
                    d = run_.details
                    lines.append(f"  {pad(h.code, 10)}visits of {run_.date_from}: {d['reported']} reported, "
                                 f"{d['checked_in']} checked in, {d['no_shows'] + d['not_seen']} no-shows")
                else:
                    run_ = await sync_schedules(rt, h.id, date_from=start, date_to=end, trigger="cli", plugins=plugins)
                    conflicts = run_.details.get("conflicts") or []
                    lines.append(f"  {pad(h.code, 10)}{run_.date_from}–{run_.date_to}: {run_.items} items, "
                                 f"{run_.created} created, {run_.changed} changed, {run_.suspended} suspended, "
                                 f"{len(conflicts)} conflicts")
                    lines.extend(f"      {c['code']}: {c['message']}" for c in conflicts[:20])
            except SyncFailed as exc:
                failed += 1
                lines.append(f"  {pad(h.code, 10)}FAILED: {exc.__cause__ or exc}")
            except DomainError as exc:
                failed += 1
                lines.append(f"  {pad(h.code, 10)}{exc.message}")
    if not hospitals:
        lines.append("  (no hospital's HIS adapter publishes schedules)" if not args.visits
                     else "  (no hospital's HIS adapter reports visits)")
    head = f"{city.slug}: {len(hospitals) - failed} of {len(hospitals)} pulls done"
    if failed:
        raise CliError("\n".join([head, *lines]))
    return "\n".join([head, *lines])


async def _reconcile(rt, args) -> str:
    from guahao.core.his.reconcile import reconcile
    from guahao.tenants.context import use_city

    city = await find_city(rt, args.city)
    day = _day(args.date, "--date")
    with use_city(city):
        hospital = await _hospital(rt, args.hospital)
        try:
            report = await reconcile(rt, hospital.id, day)
        except DomainError as exc:
            raise CliError(exc.message) from None
    if args.json:
        return json.dumps(report.as_dict(), ensure_ascii=False, indent=2)
    if args.csv:
        return report.csv().rstrip("\n")
    lines = [f"{city.slug} {hospital.code} {day}: {len(report.differences)} differences "
             f"(compared: {', '.join(report.compared) or 'nothing'}; adapter {report.adapter})"]
    for d in report.differences:
        where = " ".join(x for x in (d.doctor, d.half_day, d.period, d.pool, d.booking_id) if x)
        lines.append(f"  {pad(d.code, 28)}{pad(where, 36)}platform {pad(d.platform or '-', 14)}HIS {d.his or '-'}")
    lines.extend(f"  error: {e}" for e in report.errors)
    return "\n".join(lines)


def _cmd(fn):
    def cmd(args) -> int:
        print(run(fn, args))
        return 0

    return cmd


def add_his_commands(subs, epilog: str = "") -> None:
    """Add ``his status|sync|reconcile`` to the top-level sub-commands (once, whichever module
    asks for the ``his`` group first)."""
    his_commands(subs)


def _add_sync_commands(group) -> None:
    p = add_command(group, "status", "Each hospital's HIS: adapter, last pull, pushes owed, health, degraded.",
                    _cmd(_status), "examples:\n  guahao his status demo\n  guahao his status demo --json")
    p.add_argument("city", help="the city's slug")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--no-check", action="store_true", help="show the last health check instead of asking now")
    p = add_command(group, "sync", "Pull hospitals' schedules (or a day's visits) from their HIS now.", _cmd(_sync),
                    "examples:\n  guahao his sync demo\n  guahao his sync demo H1 --from 2026-03-02 --to 2026-03-08\n"
                    "  guahao his sync demo H1 --visits --day 2026-03-02")
    p.add_argument("city", help="the city's slug")
    p.add_argument("hospital", nargs="?", help="the hospital's code (default: every hospital whose HIS publishes)")
    p.add_argument("--from", dest="date_from", help="first day (default today)")
    p.add_argument("--to", dest="date_to", help="last day (default: the end of the booking window)")
    p.add_argument("--visits", action="store_true", help="the visit sweep instead of the schedule")
    p.add_argument("--day", help="the day of the visit sweep (default today)")
    p = add_command(group, "reconcile", "Every difference between the platform and a hospital's HIS on a day.",
                    _cmd(_reconcile), "examples:\n  guahao his reconcile demo H1 --date 2026-03-02 --csv")
    p.add_argument("city", help="the city's slug")
    p.add_argument("hospital", help="the hospital's code")
    p.add_argument("--date", required=True, help="the day (YYYY-MM-DD)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true", help="print JSON")
    shown.add_argument("--csv", action="store_true", help="print CSV")
