"""``guahao licence …``: the vendor's keys and signing (offline), and a city's licence
(install, status, revoke)."""

from __future__ import annotations

import getpass
import json
import sys
from datetime import date
from pathlib import Path

from guahao.core.cli.common import CliError, add_command, find_city, run

EXAMPLES = """\
examples (vendor, offline):
  guahao licence keygen --out ~/guahao-vendor-keys
  guahao licence sign --key ~/guahao-vendor-keys/licence-signing.private.pem --city demo \\
      --operator 示例市卫生健康委员会 --model rental --until 2027-12-31 --max-hospitals 20 \\
      --max-bookings-per-month 200000 --channels web,app,wechat,kiosk,phone --out demo.licence
examples (platform):
  guahao licence install demo demo.licence
  guahao licence status demo --json
  guahao licence revoke demo --reason "合同终止"
"""


def _actor(what: str):
    from guahao.core.audit import Actor

    return Actor("system", name=f"guahao licence {what} ({getpass.getuser()})", role="cli")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{text!r} is not a date such as 2027-12-31") from None


# --- keygen, sign (vendor, offline) -----------------------------------------------------------


def cmd_keygen(args) -> int:
    from ..licences.keys import write_key_pair

    try:
        private, public, pair = write_key_pair(Path(args.out).expanduser())
    except FileExistsError as exc:
        raise CliError(f"{exc} exists already; keys are never overwritten (choose another --out)") from None
    print(f"private key: {private}  (keep it offline; it signs licences)")
    print(f"public key:  {public}")
    print(f"public key (PASERK, for GUAHAO_LICENCE_PUBLIC_KEYS): {pair.public_paserk}")
    print(f"key id: {pair.key_id}")
    return 0


def cmd_sign(args) -> int:
    from zoneinfo import ZoneInfo

    from guahao.tenants.clock import utcnow

    from ..licences.document import LicenceDocument, LicenceRefused, Limits
    from ..licences.keys import KeyProblem
    from ..licences.signing import sign
    from ..licences.states import local_today

    try:
        key_text = Path(args.key).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read the key {args.key}: {exc.strerror}") from None
    channels = tuple(c.strip() for c in args.channels.split(",") if c.strip()) if args.channels else None
    document = LicenceDocument(
        city=args.city, valid_until=_date(args.until),
        valid_from=_date(args.valid_from) if args.valid_from else local_today(utcnow(), ZoneInfo(args.timezone)),
        operator=args.operator if args.operator is not None else args.city, model=args.model,
        limits=Limits(args.max_hospitals, args.max_bookings_per_month, channels), grace_days=args.grace_days,
        licence_id=args.licence_id or "",
    )
    try:
        token = sign(document, key_text)
    except KeyProblem as exc:
        raise CliError(f"{args.key}: {exc}") from None
    except LicenceRefused as exc:
        raise CliError(exc.line) from None
    if args.out:
        Path(args.out).expanduser().write_text(token + "\n", encoding="ascii")
        print(f"wrote {args.out}: licence for {args.city} valid {document.valid_from} to {args.until}")
    else:
        print(token)
    return 0


# --- install, status, revoke (platform) -------------------------------------------------------


async def _install(rt, slug: str, token: str):
    from ..licences.service import install_licence

    city = await find_city(rt, slug)
    return await install_licence(rt, city, token, actor=_actor("install"))


def cmd_install(args) -> int:
    from ..licences.document import LicenceRefused

    try:
        token = sys.stdin.read() if args.file == "-" else Path(args.file).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the licence {args.file}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        outcome = run(_install, args.city, token)
    except LicenceRefused as exc:
        raise CliError(f"licence refused: {exc.line}") from None
    doc = outcome.licence.document
    verb = "installed" if outcome.added else "already installed:"
    print(f"{args.city}: {verb} licence {doc.licence_id} (valid {doc.valid_from} to {doc.valid_until}, "
          f"{doc.grace_days} days of grace, key {outcome.licence.key_id}); state now {outcome.state.state}")
    return 0


async def _status(rt, slug: str) -> dict:
    from ..licences.service import licence_status

    city = await find_city(rt, slug)
    return await licence_status(rt, city)


def _limit(value) -> str:
    return "no limit" if value is None else str(value)


def cmd_status(args) -> int:
    status = run(_status, args.city)
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0
    from ..licences.banner import banner_for

    print(f"{status['city']}: {status['state']}" + ("" if status["bookings_allowed"] else " (no new bookings)"))
    if status["licence_id"]:
        limits = status["limits"] or {}
        print(f"  licence {status['licence_id']} for {status['operator']} ({status['model']}), "
              f"signed by {status['issuer_key_id']}")
        print(f"  valid {status['valid_from']} to {status['valid_until']} ({status['days_left']} days left), "
              f"grace {status['grace_days']} days to {status['grace_until']}"
              + (f" ({status['grace_days_left']} days left)" if status["grace_days_left"] else ""))
        print(f"  limits: hospitals {_limit(limits.get('max_hospitals'))}, bookings per month "
              f"{_limit(limits.get('max_bookings_per_month'))}, channels "
              f"{', '.join(limits['channels']) if limits.get('channels') else 'all'}")
    usage = status.get("usage") or {}
    if usage:
        print(f"  usage {usage['month']}: {usage['hospitals']} active hospitals, {usage['bookings_this_month']} bookings")
    for item in status.get("overage") or []:
        print(f"  overage: {item['limit']} allowed {item['allowed']}, used {item['used']}")
    for lid, why in (status.get("problems") or {}).items():
        print(f"  not used: licence {lid}: {why}")
    banner = banner_for(status)
    if banner is not None and banner.en:
        print(f"  {banner.en}")
    return 0


async def _revoke(rt, slug: str, licence_id: str | None, reason: str) -> list[str]:
    from ..licences.service import revoke_licence

    city = await find_city(rt, slug)
    return await revoke_licence(rt, city, actor=_actor("revoke"), licence_id=licence_id, reason=reason)


def cmd_revoke(args) -> int:
    from ..licences.service import LicenceNotFound

    try:
        revoked = run(_revoke, args.city, args.licence_id, args.reason)
    except LicenceNotFound as exc:
        raise CliError(exc.line) from None
    print(f"{args.city}: revoked {', '.join(revoked)}")
    return 0


def add_licence_commands(subs) -> None:
    """Add the ``licence`` commands."""
    from ..licences.document import DEFAULT_GRACE_DAYS, MODELS

    licence = add_command(subs, "licence", "Vendor-signed licences (R14.5): keys, signing, install, status, revoke.",
                          None, EXAMPLES)
    inner = licence.add_subparsers(dest="licence_command", metavar="ACTION", required=True)

    p = add_command(inner, "keygen", "Make the vendor's Ed25519 key pair (offline); never overwrites.",
                    cmd_keygen, "example:\n  guahao licence keygen --out ~/guahao-vendor-keys")
    p.add_argument("--out", required=True, help="folder for licence-signing.private.pem and licence-signing.public.pem")

    p = add_command(inner, "sign", "Sign a licence for a city with the vendor's private key (offline).", cmd_sign,
                    "example:\n  guahao licence sign --key vendor.private.pem --city demo --until 2027-12-31 "
                    "--max-hospitals 20 --out demo.licence")
    p.add_argument("--key", required=True, help="the vendor's private key (PEM file)")
    p.add_argument("--city", required=True, help="the city's slug")
    p.add_argument("--until", required=True, help="last valid day, YYYY-MM-DD (the city's local calendar)")
    p.add_argument("--from", dest="valid_from", help="first valid day, YYYY-MM-DD (default today)")
    p.add_argument("--operator", help="the operator's name (default the city's slug)")
    p.add_argument("--model", choices=MODELS, default="rental", help="contract model (default rental)")
    p.add_argument("--grace-days", type=int, default=DEFAULT_GRACE_DAYS,
                   help=f"days of grace after --until (default {DEFAULT_GRACE_DAYS})")
    p.add_argument("--max-hospitals", type=int, help="hospitals included (default no limit)")
    p.add_argument("--max-bookings-per-month", type=int, help="confirmed bookings a month included (default no limit)")
    p.add_argument("--channels", help="channels licensed, comma-separated (default all)")
    p.add_argument("--licence-id", help="the licence's id (default a new lic-YYYYMMDD-xxxxxxxx)")
    p.add_argument("--timezone", default="Asia/Shanghai", help="the city's time zone for the default --from")
    p.add_argument("--out", help="file to write the token to (default: print it)")

    p = add_command(inner, "install", "Verify a licence and install it for a city (a refused one exits 1).",
                    cmd_install, "example:\n  guahao licence install demo demo.licence")
    p.add_argument("city", help="the city's slug")
    p.add_argument("file", help="the licence token file (- for standard input)")

    p = add_command(inner, "status", "What the city's licence allows today, its limits, usage and overage.",
                    cmd_status, "example:\n  guahao licence status demo --json")
    p.add_argument("city", help="the city's slug")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add_command(inner, "revoke", "Withdraw the city's licence (every unrevoked one, or --licence-id).",
                    cmd_revoke, "example:\n  guahao licence revoke demo --reason 合同终止")
    p.add_argument("city", help="the city's slug")
    p.add_argument("--licence-id", help="revoke this licence only (the newest remaining one then counts)")
    p.add_argument("--reason", default="", help="why (kept in the history and the audit log)")
