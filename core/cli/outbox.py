"""``guahao outbox list|retry|abandon``: the deliveries a city still owes, from the shell.

The same service as the console's deliveries page (``core.backoffice.deliveries``); changes
are audited as made by ``system`` (the shell user).
"""

from __future__ import annotations

import argparse
import json

from guahao.core.errors import DomainError

from .common import CliError, add_command, find_city, pad, run

EXAMPLES = """\
examples:
  guahao outbox list demo                 # failing and failed deliveries (the default view)
  guahao outbox list demo --all           # everything still to run, oldest first
  guahao outbox list demo --failed --json
  guahao outbox retry 1234                # run one again now
  guahao outbox retry --all-failed --city demo
  guahao outbox abandon 1234 --reason "已在医院窗口退款"
"""


def _row(d) -> dict:
    return {"id": d.id, "topic": d.topic, "state": d.state, "attempts": d.attempts, "action": d.action,
            "booking": d.booking_id, "hospital": d.hospital_name, "created_at": d.created_at.isoformat(),
            "next_try": d.due_at.isoformat() if d.state in ("waiting", "retrying", "failing") else None,
            "error": d.error}


async def _list(rt, args) -> str:
    from guahao.core.backoffice import deliveries
    from guahao.tenants.context import use_city

    city = await find_city(rt, args.city)
    view = "open" if args.all else "closed" if args.closed else "problems"
    with use_city(city):
        async with rt.db.transaction() as s:
            rows = await deliveries.list_deliveries(s, view=view)
            if args.failed:
                rows = [d for d in rows if d.state in ("failing", "failed")]
            total = await deliveries.summary(s)
    if args.json:
        return json.dumps({"city": city.slug, "view": "failed" if args.failed else view,
                           "summary": {"waiting": total.waiting, "retrying": total.retrying, "failing": total.failing,
                                       "failed": total.failed, "abandoned": total.abandoned,
                                       "oldest_open": total.oldest_open.isoformat() if total.oldest_open else None},
                           "deliveries": [_row(d) for d in rows]}, ensure_ascii=False, indent=2)
    lines = [f"{city.slug}: {total.waiting} waiting, {total.retrying} retrying, {total.failing} failing, "
             f"{total.failed} failed, {total.abandoned} abandoned"
             + (f"; oldest open since {total.oldest_open:%Y-%m-%d %H:%M} UTC" if total.oldest_open else "")]
    for d in rows:
        lines.append(f"  {d.id:>8}  {pad(d.topic, 20)}{pad(d.state, 10)}{d.attempts:>3} tries  "
                     f"{pad(d.booking_id or '-', 20)}{d.error[:80]}")
    if not rows:
        lines.append("  (nothing to show)")
    return "\n".join(lines)


async def _city_of(rt, outbox_id: int):
    from sqlalchemy import select

    from guahao.core.models import OutboxMessage
    from guahao.tenants.context import platform_scope, use_cell
    from guahao.tenants.models import City
    from guahao.tenants.resolver import city_context

    row = None
    with platform_scope("outbox command: the city of a delivery"):
        for cell in rt.db.cell_names:  # ids are unique across cells; a moved city's old copy is left out
            with use_cell(cell):
                async with rt.db.transaction() as s:
                    city_id = await s.scalar(select(OutboxMessage.city_id).join(City, City.id == OutboxMessage.city_id)
                                             .where(OutboxMessage.id == outbox_id, City.cell == cell))
            if city_id is not None:
                async with rt.db.transaction() as s:
                    row = await s.get(City, city_id)
                break
    if row is None:
        raise CliError(f"no delivery {outbox_id}; see `guahao outbox list CITY`")
    return city_context(row)


async def _retry(rt, args) -> str:
    from guahao.core.audit import SYSTEM
    from guahao.core.backoffice import deliveries
    from guahao.tenants.context import use_city

    if args.all_failed == (args.id is not None):
        raise CliError("give a delivery id or --all-failed (with --city)")
    if args.all_failed:
        if not args.city:
            raise CliError("--all-failed needs --city CITY")
        city = await find_city(rt, args.city)
        with use_city(city):
            async with rt.db.transaction() as s:
                ids = await deliveries.retry_all_failed(s, SYSTEM)
        return f"{city.slug}: {len(ids)} failing or failed deliveries will run again now" + (
            f" ({', '.join(map(str, ids[:20]))}{' …' if len(ids) > 20 else ''})" if ids else "")
    city = await _city_of(rt, args.id)
    with use_city(city):
        async with rt.db.transaction() as s:
            try:
                row = await deliveries.retry(s, SYSTEM, args.id)
            except DomainError as exc:
                raise CliError(exc.message) from None
    return f"delivery {row.id} ({row.topic}) of {city.slug} will run again now"


async def _abandon(rt, args) -> str:
    from guahao.core.audit import SYSTEM
    from guahao.core.backoffice import deliveries
    from guahao.tenants.context import use_city

    city = await _city_of(rt, args.id)
    with use_city(city):
        async with rt.db.transaction() as s:
            try:
                row = await deliveries.abandon(s, SYSTEM, args.id, args.reason)
            except DomainError as exc:
                raise CliError(exc.message) from None
    return f"delivery {row.id} ({row.topic}) of {city.slug} abandoned: {args.reason.strip()}"


def cmd_list(args) -> int:
    print(run(_list, args))
    return 0


def cmd_retry(args) -> int:
    print(run(_retry, args))
    return 0


def cmd_abandon(args) -> int:
    print(run(_abandon, args))
    return 0


def add_outbox_commands(subs, epilog: str) -> None:
    """Add ``outbox list|retry|abandon`` to the top-level sub-commands."""
    outbox = subs.add_parser("outbox", help="Deliveries still owed: list, retry or abandon them.",
                             description="Deliveries (HIS pushes, refunds, messages, events) still owed: list, retry "
                                         "or abandon them.", epilog=EXAMPLES,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
    osubs = outbox.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)
    p = add_command(osubs, "list", "List a city's failing, failed or waiting deliveries.", cmd_list,
                    "example:\n  guahao outbox list demo --failed")
    p.add_argument("city", help="the city's slug")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--failed", action="store_true", help="only failing (still retrying) and failed ones")
    shown.add_argument("--all", action="store_true", help="everything still to run, oldest first")
    shown.add_argument("--closed", action="store_true", help="the ones that gave up or were abandoned")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add_command(osubs, "retry", "Run a delivery (or every failing or failed one of a city) again now.", cmd_retry,
                    "examples:\n  guahao outbox retry 1234\n  guahao outbox retry --all-failed --city demo")
    p.add_argument("id", nargs="?", type=int, help="the delivery's id (from `guahao outbox list`)")
    p.add_argument("--all-failed", action="store_true", help="every failing or failed delivery of --city")
    p.add_argument("--city", help="the city's slug (with --all-failed)")
    p = add_command(osubs, "abandon", "Stop retrying a delivery, with the reason (audited).", cmd_abandon,
                    "example:\n  guahao outbox abandon 1234 --reason \"已在医院窗口退款\"")
    p.add_argument("id", type=int, help="the delivery's id")
    p.add_argument("--reason", required=True, help="why (kept in the audit log)")
