"""``guahao payments reconcile CITY --date D [--provider P] [--json]``: match the providers'
statements of a day with the platform's payments and refunds (``core.payments.reconcile``),
exactly what the daily job does; the run and its mismatches are stored for the finance page.

Exit code 0 when every provider's statement was read (mismatches or not), 1 when one could
not be had (the others still run)."""

from __future__ import annotations

import json
from datetime import date

from guahao.core.errors import DomainError

from .common import CliError, add_command, find_city, pad, run

EXAMPLES = """\
examples:
  guahao payments reconcile demo --date 2026-03-02                  # every provider with statements
  guahao payments reconcile demo --date 2026-03-02 --provider wechatpay --json
"""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"--date {text!r} is not a date (YYYY-MM-DD)") from None


def _mismatch(m) -> dict:
    return {
        "kind": m.kind, "line_kind": m.line_kind, "booking_id": m.booking_id, "our_ref": m.our_ref,
        "provider_ref": m.provider_ref, "provider_amount_fen": m.provider_amount_fen,
        "platform_amount_fen": m.platform_amount_fen, "provider_status": m.provider_status,
        "platform_status": m.platform_status,
    }


async def _reconcile(rt, args) -> tuple[str, bool]:
    from guahao.core.payments.reconcile import StatementFailed, reconcile, statement_providers
    from guahao.tenants.context import use_city

    city = await find_city(rt, args.city)
    day = _day(args.date)
    reports, failed = [], False
    with use_city(city):
        if args.provider:
            names = [args.provider]
        else:
            names = [p.name for p in statement_providers(await rt.plugins.for_city(city))]
            if not names:
                raise CliError(f"no payment provider with statements is enabled in {city.slug}")
        for name in names:
            try:
                report = await reconcile(rt, name, day, trigger="cli")
            except DomainError as exc:
                raise CliError(f"{name}: {exc.message}") from None
            except StatementFailed as exc:
                failed = True
                reports.append({"provider": name, "day": day.isoformat(), "outcome": "failed", "error": str(exc)})
                continue
            done = report.run
            reports.append({
                "provider": name, "day": day.isoformat(), "outcome": done.outcome,
                "statement_lines": done.statement_lines, "payments": done.payments, "refunds": done.refunds,
                "provider_paid_fen": done.provider_paid_fen, "provider_refunded_fen": done.provider_refunded_fen,
                "platform_paid_fen": done.platform_paid_fen, "platform_refunded_fen": done.platform_refunded_fen,
                "mismatches": [_mismatch(m) for m in report.mismatches],
            })
    if args.json:
        return json.dumps({"city": city.slug, "runs": reports}, ensure_ascii=False, indent=2), failed
    out = []
    for r in reports:
        if r["outcome"] == "failed":
            out.append(f"{city.slug} {r['provider']} {r['day']}: failed: {r['error']}")
            continue
        out.append(f"{city.slug} {r['provider']} {r['day']}: {len(r['mismatches'])} mismatches; "
                   f"{r['statement_lines']} statement lines; paid {r['provider_paid_fen']} fen at the provider, "
                   f"{r['platform_paid_fen']} on the platform; refunded {r['provider_refunded_fen']} / "
                   f"{r['platform_refunded_fen']}")
        for m in r["mismatches"]:
            out.append(f"  {pad(m['kind'], 22)}{pad(m['line_kind'], 9)}{pad(m['booking_id'] or '-', 14)}"
                       f"{pad(m['our_ref'] or m['provider_ref'] or '-', 30)}"
                       f"provider {pad(_side(m['provider_amount_fen'], m['provider_status']), 18)}"
                       f"platform {_side(m['platform_amount_fen'], m['platform_status'])}")
    return "\n".join(out), failed


def _side(amount, status: str) -> str:
    return "-" if amount is None and not status else f"{amount if amount is not None else '-'} {status or ''}".strip()


def _cmd(args) -> int:
    text, failed = run(_reconcile, args)
    print(text)
    return 1 if failed else 0


def add_payment_commands(subs, epilog: str = "") -> None:
    """Add ``payments reconcile`` to the top-level sub-commands."""
    help = "Payments: reconcile the providers' statements of a day."
    group = subs.add_parser("payments", help=help, description=help, epilog=EXAMPLES)
    actions = group.add_subparsers(dest="payments_command", metavar="ACTION", required=True)
    p = add_command(actions, "reconcile", "Match the providers' statements of a day with the platform's payments "
                    "and refunds; record and print every mismatch.", _cmd, EXAMPLES)
    p.add_argument("city", help="the city's slug")
    p.add_argument("--date", required=True, help="the day (YYYY-MM-DD, the provider's calendar day)")
    p.add_argument("--provider", help="one provider (default: every enabled provider with statements)")
    p.add_argument("--json", action="store_true", help="print JSON")
