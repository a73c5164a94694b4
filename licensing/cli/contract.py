"""``guahao contract set|show|profit``: a city's contract (R14.1, R14.2) from the command line."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal, InvalidOperation

from guahao.core.cli.common import CliError, add_command, find_city, run

EXAMPLES = """\
examples:
  guahao contract set demo --model revenue_share --from 2026-01-01 --percent 8 --minimum-fen 500000
  guahao contract set demo --model revenue_share --from 2026-07-01 --percent 8 \\
      --tier 10000:50 --tier '*:30' --note "补充协议：阶梯单价"
  guahao contract set demo --model rental --from 2026-03-10 --licence-fen-per-year 12000000 \\
      --maintenance-fen-per-year 3600000 --billing monthly --included-bookings 20000 --overage-booking-fen 20
  guahao contract set demo --model profit_share --from 2026-01-01 --percent 30
  guahao contract profit demo --period 2026-11 --profit-fen 12345600
  guahao contract show demo --json
"""

CLI_ACTOR_NAME = "cli"

# flag (argparse dest) → term key, per model
_TERM_FLAGS = {
    "percent": "percent",
    "per_booking_fen": "per_booking_fen",
    "minimum_fen": "minimum_fen",
    "licence_fen_per_year": "licence_fen_per_year",
    "maintenance_fen_per_year": "maintenance_fen_per_year",
    "billing": "billing",
    "included_hospitals": "included_hospitals",
    "included_bookings": "included_bookings_per_month",
    "included_sms": "included_sms_per_month",
    "overage_hospital_fen": "overage_hospital_fen",
    "overage_booking_fen": "overage_booking_fen",
    "overage_sms_fen": "overage_sms_fen",
}


def cli_actor():
    from guahao.core.audit import Actor

    return Actor("system", name=CLI_ACTOR_NAME)


def parse_date(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"{flag} {text!r} is not a date such as 2026-11-01") from None


def parse_percent(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().rstrip("%"))
    except InvalidOperation:
        raise CliError(f"--percent {text!r} is not a number such as 8 or 12.5") from None
    if not value.is_finite():
        raise CliError(f"--percent {text!r} is not a number such as 8 or 12.5")
    return value


def parse_tier(text: str) -> dict:
    """``10000:50`` (bookings up to 10000 at 50 fen) or ``*:30`` (the open last step)."""
    up, sep, fen = text.partition(":")
    if not sep or not fen.strip().isdigit() or not (up.strip() == "*" or up.strip().isdigit()):
        raise CliError(f"--tier {text!r} is not UP_TO:FEN such as 10000:50, or *:30 for the last step")
    return {"up_to": None if up.strip() == "*" else int(up), "per_booking_fen": int(fen)}


def terms_from_args(args) -> dict:
    """The terms the flags give (only those set; the model's validation says what is missing)."""
    terms: dict = {}
    for dest, key in _TERM_FLAGS.items():
        value = getattr(args, dest, None)
        if value is not None:
            terms[key] = str(parse_percent(value)) if dest == "percent" else value
    if args.tier:
        terms["tiers"] = [parse_tier(t) for t in args.tier]
    return terms


def buyer_from_args(args) -> dict | None:
    buyer = {k: getattr(args, f"buyer_{k}") for k in ("name", "tax_id", "address", "email")}
    buyer = {k: v for k, v in buyer.items() if v}
    return buyer or None


async def _set(rt, args) -> dict:
    from guahao.core.errors import DomainError
    from guahao.plugin_api import city_session

    from ..contracts.service import contract_as_dict, set_contract

    city = await find_city(rt, args.city)
    effective = parse_date(args.effective_from, "--from")
    terms = terms_from_args(args)
    try:
        async with city_session(rt, city) as s:
            contract = await set_contract(s, cli_actor(), model=args.model, effective_from=effective, terms=terms,
                                          buyer=buyer_from_args(args), note=args.note or "")
    except DomainError as exc:
        raise CliError(exc.message) from None
    return contract_as_dict(contract)


def cmd_set(args) -> int:
    data = run(_set, args)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(f"{args.city}: contract version {data['version']} ({data['model']}) takes effect on {data['effective_from']}")
        print(f"  terms: {json.dumps(data['terms'], ensure_ascii=False)}")
    return 0


async def _show(rt, slug: str, on: str | None) -> dict:
    from guahao.plugin_api import city_session, utcnow

    from ..contracts.service import contract_summary

    city = await find_city(rt, slug)
    day = parse_date(on, "--on") if on else utcnow().astimezone(city.tz).date()
    async with city_session(rt, city) as s:
        return await contract_summary(s, day)


def cmd_show(args) -> int:
    data = run(_show, args.city, args.on)
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    current = data["in_force"]
    if current is None:
        print(f"{args.city}: no contract in force on {data['on']}")
    else:
        print(f"{args.city}: version {current['version']}, {current['model_label']} ({current['model']}), "
              f"in force since {current['effective_from']}")
        print(f"  terms: {json.dumps(current['terms'], ensure_ascii=False)}")
        print(f"  buyer: {json.dumps(current['buyer'], ensure_ascii=False)}")
    for c in data["history"]:
        print(f"  v{c['version']}  {c['effective_from']}  {c['model']:<14} {c['note']}")
    return 0


async def _profit(rt, slug: str, period: str, profit_fen: int, note: str) -> dict:
    from guahao.core.errors import DomainError
    from guahao.plugin_api import city_session

    from ..contracts.service import declare_profit

    city = await find_city(rt, slug)
    try:
        async with city_session(rt, city) as s:
            row = await declare_profit(s, cli_actor(), period=period, profit_fen=profit_fen, note=note)
    except DomainError as exc:
        raise CliError(exc.message) from None
    return {"period": row.period, "profit_fen": row.profit_fen, "note": row.note}


def cmd_profit(args) -> int:
    data = run(_profit, args.city, args.period, args.profit_fen, args.note or "")
    print(f"{args.city}: operating profit of {data['period']} declared as {data['profit_fen']} fen")
    return 0


def add_contract_commands(subs) -> None:
    """Add the ``contract`` commands."""
    top = add_command(subs, "contract", "Set or show a city's contract (revenue share, rental, profit share).", None,
                      EXAMPLES)
    inner = top.add_subparsers(dest="contract_command", metavar="ACTION", required=True)
    p = add_command(inner, "set", "Store a new version of the city's contract (the first one or an amendment).",
                    cmd_set, EXAMPLES)
    p.add_argument("city", help="the city's slug")
    p.add_argument("--model", required=True, choices=("revenue_share", "rental", "profit_share"))
    p.add_argument("--from", dest="effective_from", required=True, metavar="DATE",
                   help="the day the version takes effect (YYYY-MM-DD, the city's calendar)")
    share = p.add_argument_group("revenue share and profit share")
    share.add_argument("--percent", metavar="P", help="percent of the fees (revenue share) or of the declared profit")
    share.add_argument("--per-booking-fen", type=int, metavar="N", help="a fixed amount per confirmed booking")
    share.add_argument("--tier", action="append", metavar="UP_TO:FEN",
                       help="a graduated step of the per-booking price by the month's volume; repeat, last one *:FEN")
    share.add_argument("--minimum-fen", type=int, metavar="N", help="the monthly minimum guarantee")
    rental = p.add_argument_group("rental")
    rental.add_argument("--licence-fen-per-year", type=int, metavar="N")
    rental.add_argument("--maintenance-fen-per-year", type=int, metavar="N")
    rental.add_argument("--billing", choices=("monthly", "yearly"), help="how the yearly fees are billed (default monthly)")
    rental.add_argument("--included-hospitals", type=int, metavar="N", help="active hospitals included per month")
    rental.add_argument("--included-bookings", type=int, metavar="N", help="confirmed bookings included per month")
    rental.add_argument("--included-sms", type=int, metavar="N", help="SMS segments included per month")
    rental.add_argument("--overage-hospital-fen", type=int, metavar="N", help="per active hospital over the limit")
    rental.add_argument("--overage-booking-fen", type=int, metavar="N", help="per booking over the limit")
    rental.add_argument("--overage-sms-fen", type=int, metavar="N", help="per SMS segment over the limit")
    parties = p.add_argument_group("the buyer (the city's operator, as printed on invoices)")
    parties.add_argument("--buyer-name")
    parties.add_argument("--buyer-tax-id")
    parties.add_argument("--buyer-address")
    parties.add_argument("--buyer-email")
    p.add_argument("--note", help="what the version is (补充协议 …), kept in its history")
    p.add_argument("--json", action="store_true", help="print the stored version as JSON")

    p = add_command(inner, "show", "Show the contract in force and its history.", cmd_show,
                    "example:\n  guahao contract show demo --json")
    p.add_argument("city", help="the city's slug")
    p.add_argument("--on", metavar="DATE", help="the day to show the contract of (default today)")
    p.add_argument("--json", action="store_true")

    p = add_command(inner, "profit", "Declare a month's operating profit (profit-share contracts).", cmd_profit,
                    "example:\n  guahao contract profit demo --period 2026-11 --profit-fen 12345600")
    p.add_argument("city", help="the city's slug")
    p.add_argument("--period", required=True, help="the month, YYYY-MM")
    p.add_argument("--profit-fen", required=True, type=int, metavar="N", help="the operating profit in fen (a loss < 0)")
    p.add_argument("--note")
