"""``guahao city …``: create, list and configure cities (one city = one tenant)."""

from __future__ import annotations

import argparse
import json
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlalchemy import select

from guahao.tenants.rules import CityRules

from .common import CliError, add_command, find_city, json_or_text, pad, pairs, run
from .importing import add_import_command

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
HOST_RE = re.compile(r"[a-z0-9]([a-z0-9.-]{0,253}[a-z0-9])?")
RESERVED_SLUGS = {"docs", "openapi.json", "static", "healthz"}


async def _city_create(rt, args) -> str:
    from guahao.tenants.models import CityHost
    from guahao.tenants.service import CityExists, create_city, get_city

    slug = args.slug
    if not SLUG_RE.fullmatch(slug) or slug in RESERVED_SLUGS:
        raise CliError(f"invalid slug {slug!r}: use 1–40 lower-case letters, digits, '-' or '_' (e.g. hz)")
    if not args.name.strip():
        raise CliError("the city needs a name, e.g. 杭州市")
    try:
        ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise CliError(f"unknown time zone {args.timezone!r} (e.g. Asia/Shanghai)") from None
    districts = []
    for item in args.district:
        code, sep, name = item.partition(":")
        if not sep or not code.strip() or not name.strip():
            raise CliError(f"district {item!r} is not CODE:NAME (e.g. 330102:上城区)")
        districts.append((code.strip(), name.strip()))
    if len({code for code, _ in districts}) != len(districts):
        raise CliError("district codes must be different")
    hosts = [h.strip().lower().rstrip(".") for h in args.host]
    for h in hosts:
        if not HOST_RE.fullmatch(h):
            raise CliError(f"invalid host name {h!r}")
    if await get_city(rt.db, slug) is not None:
        raise CliError(f"city {slug!r} exists already; see `guahao city list`")
    async with rt.db.transaction() as s:
        taken = (await s.scalars(select(CityHost.host).where(CityHost.host.in_(hosts)))).all() if hosts else []
    if taken:
        raise CliError(f"host {taken[0]!r} already belongs to a city")
    try:
        city = await create_city(
            rt.db, slug=slug, name=args.name.strip(), timezone=args.timezone, districts=districts, hosts=hosts
        )
    except CityExists:  # created by someone else in the meantime
        raise CliError(f"city {slug!r} exists already; see `guahao city list`") from None
    return f"created city {city.slug} ({city.name}, {city.timezone}); enable plugins with `guahao city plugin {slug} PLUGIN`"


async def _city_list(rt) -> list[str]:
    from guahao.tenants.models import City, CityHost
    from guahao.tenants.resolver import city_context
    from guahao.tenants.service import enabled_plugins

    async with rt.db.transaction() as s:
        cities = (await s.scalars(select(City).order_by(City.slug))).all()
        hosts: dict[int, list[str]] = {}
        for h in (await s.scalars(select(CityHost).order_by(CityHost.host))).all():
            hosts.setdefault(h.city_id, []).append(h.host)
    if not cities:
        return ["no cities yet; create one with `guahao city create SLUG NAME` or run `guahao demo`"]
    lines = [pad("slug", 16) + pad("name", 14) + pad("time zone", 17) + pad("active", 7) + "plugins / hosts"]
    for c in cities:
        plugins = ",".join(sorted(await enabled_plugins(rt.db, city_context(c)))) or "-"
        extra = f" / {','.join(hosts[c.id])}" if c.id in hosts else ""
        lines.append(
            pad(c.slug, 16) + pad(c.name, 14) + pad(c.timezone, 17) + pad("yes" if c.active else "no", 7) + plugins + extra
        )
    return lines


def _rule_changes(pairs: dict[str, str]) -> dict[str, Any]:
    fields = CityRules.model_fields
    changes: dict[str, Any] = {}
    for key, raw in pairs.items():
        if key not in fields:
            raise CliError(f"unknown rule {key!r}; known rules: {', '.join(fields)}")
        if raw.lower() in ("none", "null", ""):
            changes[key] = None
        elif key == "credit_ladder_days":
            changes[key] = [part.strip() for part in raw.split(",") if part.strip()]
        else:
            changes[key] = raw
    return changes


async def _city_rules(rt, slug: str, items: list[str]) -> list[str]:
    from guahao.tenants.service import update_rules

    city = await find_city(rt, slug)
    if items:
        try:
            city = await update_rules(rt.db, city, _rule_changes(pairs(items, "rule")))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise CliError(f"rules not changed: {problems}") from None
    return [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in city.rules.model_dump(mode="json").items()]


async def _city_plugin(rt, args) -> list[str]:
    from guahao.core.errors import DomainError
    from guahao.core.plugins.config import check
    from guahao.core.plugins.settings import SettingsInvalid
    from guahao.tenants.service import configure_plugin, enabled_plugins, plugin_config

    city = await find_city(rt, args.slug)
    host = rt.plugins
    if args.plugin is None:
        enabled = await enabled_plugins(rt.db, city)
        always = {n for n in host.names() if (m := host.meta(n)) is not None and m.always_enabled}
        lines = [pad(name, 24) + ("always on" if name in always else "enabled" if name in enabled else "-")
                 for name in host.names()]
        return lines + [pad(b.name, 24) + f"broken ({b.stage}): {b.reason}" for b in host.broken()]
    meta = host.meta(args.plugin)
    if args.disable and meta is not None and meta.always_enabled:
        raise CliError(f"{args.plugin} is part of the platform in every city and cannot be turned off")
    stored = await plugin_config(rt.db, city, args.plugin) or {"settings": {}, "secrets": {}}
    settings = {k: v for k, v in stored["settings"].items() if k not in args.unset}
    settings.update({k: json_or_text(v) for k, v in pairs(args.set, "setting").items()})
    secrets = pairs(args.secret, "secret")
    try:
        settings, new_secrets = check(host, args.plugin, settings, secrets, stored_secrets=stored["secrets"],
                                      enabled=not args.disable)
    except SettingsInvalid as exc:
        raise CliError(f"{exc.message}\n{exc.english()}") from None
    except DomainError as exc:
        raise CliError(exc.message) from None
    merged = {**stored["secrets"], **new_secrets} if new_secrets else None
    await configure_plugin(rt.db, city, args.plugin, enabled=not args.disable, settings=settings, secrets=merged)
    state = "disabled" if args.disable else "enabled"
    shown = json.dumps(settings, ensure_ascii=False)
    return [f"{args.plugin} {state} for {city.slug}; settings {shown}"
            + (f"; secrets changed: {', '.join(sorted(new_secrets))}" if new_secrets else "")]


def cmd_city_create(args) -> int:
    print(run(_city_create, args))
    return 0


def cmd_city_list(args) -> int:
    print("\n".join(run(_city_list)))
    return 0


def cmd_city_rules(args) -> int:
    print("\n".join(run(_city_rules, args.slug, args.pairs)))
    return 0


def cmd_city_plugin(args) -> int:
    print("\n".join(run(_city_plugin, args)))
    return 0


def add_city_commands(subs, epilog: str) -> None:
    """Add ``city create|list|rules|plugin`` to the top-level sub-commands."""
    city = subs.add_parser("city", help="Create, list and configure cities (one city = one tenant).",
                           description="Create, list and configure cities (one city = one tenant).",
                           epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    csubs = city.add_subparsers(dest="city_command", metavar="CITY_COMMAND", required=True)

    p = add_command(csubs, "create", "Create a city platform with its districts and host names.", cmd_city_create,
             "example:\n  guahao city create hz 杭州市 --district 330102:上城区 --district 330105:拱墅区 "
             "--host guahao.hz.example.cn")
    p.add_argument("slug", help="short name used in URLs: /c/SLUG/ and /api/v1/SLUG/ (e.g. hz)")
    p.add_argument("name", help="the city's name as people read it (e.g. 杭州市)")
    p.add_argument("--timezone", default="Asia/Shanghai", help="IANA time zone (default Asia/Shanghai)")
    p.add_argument("--district", action="append", default=[], metavar="CODE:NAME",
                   help="an administrative district; repeat for more")
    p.add_argument("--host", action="append", default=[], metavar="HOST",
                   help="a host name that serves this city; repeat for more")

    add_command(csubs, "list", "List the cities with their enabled plugins and host names.", cmd_city_list,
         "example:\n  guahao city list")

    p = add_command(csubs, "rules", "Show a city's booking rules, or change some with key=value.", cmd_city_rules,
             "examples:\n  guahao city rules hz\n  guahao city rules hz booking_window_days=7 release_time=08:00 "
             "credit_ladder_days=30,60,90\n\nrules: " + ", ".join(CityRules.model_fields))
    p.add_argument("slug", help="the city")
    p.add_argument("pairs", nargs="*", metavar="key=value", help="rules to change (validated together)")

    p = add_command(csubs, "plugin", "Enable, configure or disable a plugin for a city (without PLUGIN: list them).",
             cmd_city_plugin,
             "examples:\n  guahao city plugin hz\n  guahao city plugin hz demo_his --secret token=s3cret-token\n"
             "  guahao city plugin hz message_log --disable\n\n"
             "--set values are JSON when they parse as JSON (numbers, true/false), else text;\n"
             "--secret values are stored encrypted. Values are checked against the plugin's declared\n"
             "settings (`guahao plugin show PLUGIN` lists them); a refusal changes nothing.")
    p.add_argument("slug", help="the city")
    p.add_argument("plugin", nargs="?", help="plugin name (entry point of group 'guahao')")
    p.add_argument("--disable", action="store_true", help="disable instead of enable (settings are kept)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a setting; repeat for more")
    p.add_argument("--secret", action="append", default=[], metavar="KEY=VALUE",
                   help="a credential, stored encrypted; repeat for more")
    p.add_argument("--unset", action="append", default=[], metavar="KEY",
                   help="remove a stored setting (its default applies again); repeat for more")

    add_import_command(csubs)
