"""Creating and configuring cities. Used by the CLI, the demo seed and (later) the console."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from .clock import utcnow
from .context import CityContext, use_city
from .crypto import open_secrets, seal_secrets
from .models import City, CityHost, CityPlugin, District
from .resolver import city_context
from .rules import CityRules


class CityExists(ValueError):
    pass


async def create_city(
    db,
    *,
    slug: str,
    name: str,
    timezone: str = "Asia/Shanghai",
    rules: CityRules | dict | None = None,
    districts: Sequence[tuple[str, str]] = (),
    hosts: Sequence[str] = (),
) -> CityContext:
    """Create a city with its districts and host names; returns its context."""
    rules = rules if isinstance(rules, CityRules) else CityRules.model_validate(rules or {})
    async with db.transaction() as s:
        if await s.scalar(select(col(City.id)).where(col(City.slug) == slug)) is not None:
            raise CityExists(f"city {slug!r} exists already")
        city = City(slug=slug, name=name, timezone=timezone, rules=json.loads(rules.model_dump_json()))
        s.add(city)
        await s.flush()
        for host in hosts:
            s.add(CityHost(host=host.lower(), city_id=int(city.id or 0)))
        ctx = city_context(city)
    with use_city(ctx):
        async with db.transaction() as s:
            for code, dname in districts:
                s.add(District(code=code, name=dname))
    return ctx


async def get_city(db, slug: str) -> CityContext | None:
    async with db.transaction() as s:
        city = await s.scalar(select(City).where(col(City.slug) == slug))
        return city_context(city) if city else None


async def update_rules(db, city: CityContext, changes: dict[str, Any]) -> CityContext:
    """Change some rules (validated as a whole) and bump the city's config version."""
    async with db.transaction() as s:
        row = await s.get(City, city.id)
        merged = CityRules.model_validate({**(row.rules or {}), **changes})
        row.rules = json.loads(merged.model_dump_json())
        row.config_version += 1
        return city_context(row)


async def configure_plugin(
    db,
    city: CityContext,
    plugin: str,
    *,
    enabled: bool = True,
    settings: dict | None = None,
    secrets: dict | None = None,
) -> None:
    """Enable/disable a plugin for a city with its settings; secrets are stored encrypted."""
    with use_city(city):
        async with db.transaction() as s:
            row = await s.scalar(select(CityPlugin).where(col(CityPlugin.plugin) == plugin))
            if row is None:
                row = CityPlugin(plugin=plugin)
                s.add(row)
            row.enabled = enabled
            row.settings = dict(settings or {})
            if secrets is not None:
                row.secrets_encrypted = seal_secrets(secrets)
            row.updated_at = utcnow()
    async with db.transaction() as s:
        c = await s.get(City, city.id)
        c.config_version += 1


async def plugin_config(db, city: CityContext, plugin: str) -> dict | None:
    """``{"enabled", "settings", "secrets"}`` stored for one plugin of a city (secrets
    decrypted), or ``None`` when the city never configured it."""
    with use_city(city):
        async with db.transaction() as s:
            row = await s.scalar(select(CityPlugin).where(col(CityPlugin.plugin) == plugin))
            if row is None:
                return None
            secrets = open_secrets(row.secrets_encrypted)
            return {"enabled": row.enabled, "settings": dict(row.settings or {}), "secrets": secrets}


async def enabled_plugins(db, city: CityContext) -> dict[str, dict]:
    """``{plugin: {"settings": …, "secrets": …}}`` for the city's enabled plugins."""
    with use_city(city):
        async with db.transaction() as s:
            rows = (await s.scalars(select(CityPlugin).where(col(CityPlugin.enabled).is_(True)))).all()
    out = {}
    for r in rows:
        secrets = open_secrets(r.secrets_encrypted)
        out[r.plugin] = {"settings": r.settings or {}, "secrets": secrets}
    return out
