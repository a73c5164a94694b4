"""``guahao fhir client add|list|disable|enable``: the city operator registers third-party
applications of the FHIR API (entry point ``guahao.commands``). ``add`` prints the client's
secret once; only its Argon2id hash is kept."""

from __future__ import annotations

import json

from . import clients


def cmd_client_add(args) -> int:
    from guahao.core.cli.common import find_city, run

    async def go(rt):
        city = await find_city(rt, args.city)
        row, secret = await clients.add_client(rt, city, args.name, scopes=args.scope or (),
                                               daily_quota=args.quota, rate_per_minute=args.rate)
        return row, secret

    row, secret = run(go)
    print(f"client_id:     {row.client_id}")
    print(f"client_secret: {secret}")
    print(f"name:          {row.name}")
    print(f"scopes:        {' '.join(row.scopes)}")
    print(f"daily quota:   {row.daily_quota} bookings; rate: {row.rate_per_minute} requests/minute")
    print(f"token URL:     /fhir/{args.city}/token   (the secret is shown only now / 密钥仅显示这一次)")
    return 0


def cmd_client_list(args) -> int:
    from guahao.core.cli.common import find_city, run

    async def go(rt):
        return await clients.list_clients(rt, await find_city(rt, args.city))

    rows = run(go)
    if args.json:
        print(json.dumps([{"client_id": r.client_id, "name": r.name, "scopes": r.scopes, "daily_quota": r.daily_quota,
                           "rate_per_minute": r.rate_per_minute, "active": r.active} for r in rows], ensure_ascii=False))
        return 0
    for r in rows:
        print(f"{r.client_id}  {'active' if r.active else 'disabled':8}  quota {r.daily_quota:>5}/day  "
              f"rate {r.rate_per_minute:>4}/min  {' '.join(r.scopes)}  {r.name}")
    return 0


def _set_active(active: bool):
    def cmd(args) -> int:
        from guahao.core.cli.common import CliError, find_city, run

        async def go(rt):
            return await clients.set_active(rt, await find_city(rt, args.city), args.client_id, active)

        if not run(go):
            raise CliError(f"no client {args.client_id!r} in {args.city}; see `guahao fhir client list {args.city}`")
        print(f"{args.client_id} {'enabled' if active else 'disabled (its tokens no longer work)'}")
        return 0

    return cmd


def add_commands(subs) -> None:
    """Add the ``fhir client`` commands to the ``guahao`` command."""
    from guahao.core.cli.common import add_command

    fhir = subs.add_parser("fhir", help="FHIR scheduling API for third parties (fhir_api plugin).",
                           description="FHIR scheduling API for third parties (fhir_api plugin).")
    fhir_subs = fhir.add_subparsers(dest="fhir_command", required=True)
    client = fhir_subs.add_parser("client", help="Third-party applications (OAuth 2.0 clients) of a city.",
                                  description="Third-party applications (OAuth 2.0 clients) of a city.")
    client_subs = client.add_subparsers(dest="client_command", required=True)
    p = add_command(
        client_subs, "add", "Register a third-party application; prints its client id and secret (once).",
        cmd_client_add,
        "examples:\n  guahao fhir client add demo 健康助手 --quota 200\n"
        "  guahao fhir client add demo 查询小程序 --scope system/Slot.read --rate 60\n",
    )
    p.add_argument("city", help="city code")
    p.add_argument("name", help="the application's name, as people read it")
    p.add_argument("--scope", action="append", choices=list(clients.SCOPES),
                   help="a scope it may ask for (repeat; default: all)")
    p.add_argument("--quota", type=int, default=100, help="successful bookings a day (default 100)")
    p.add_argument("--rate", type=int, default=120, help="requests a minute (default 120)")
    p = add_command(client_subs, "list", "List a city's third-party applications.", cmd_client_list,
                    "examples:\n  guahao fhir client list demo --json\n")
    p.add_argument("city", help="city code")
    p.add_argument("--json", action="store_true", help="print JSON")
    for name, active in (("disable", False), ("enable", True)):
        p = add_command(client_subs, name, f"{name.capitalize()} a third-party application.", _set_active(active),
                        f"examples:\n  guahao fhir client {name} demo fc0123456789\n")
        p.add_argument("city", help="city code")
        p.add_argument("client_id", help="the client id")
