"""A hospital's own settings for its city's plugins (R7: each hospital has its own HIS).

A plugin that talks to something the hospital owns (its HIS, its merchant account) declares
``PluginMeta.hospital_settings``. A hospital may then set those values for itself; for that
hospital's bookings they override the city's values of the same name. Credentials are stored
encrypted and never shown again; every change is checked against the declared model and
written to the audit log.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from guahao.core import audit
from guahao.core.errors import DomainError
from guahao.core.models.plugins import HospitalPlugin
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, use_city
from guahao.tenants.crypto import open_secrets, seal_secrets

from .config import installed_meta
from .settings import validate


def _secrets(row: HospitalPlugin | None) -> dict[str, str]:
    return open_secrets(row.secrets_encrypted if row else "")


async def hospital_configs(db, city: CityContext) -> dict[str, dict[int, dict]]:
    """``{plugin: {hospital id: {"settings": …, "secrets": …}}}`` of every hospital of the city."""
    with use_city(city):
        async with db.transaction() as s:
            rows = (await s.scalars(select(HospitalPlugin))).all()
    out: dict[str, dict[int, dict]] = {}
    for r in rows:
        out.setdefault(r.plugin, {})[r.hospital_id] = {"settings": dict(r.settings or {}), "secrets": _secrets(r)}
    return out


async def hospital_rows(s: AsyncSession, hospital_id: int) -> dict[str, HospitalPlugin]:
    rows = (await s.scalars(select(HospitalPlugin).where(col(HospitalPlugin.hospital_id) == hospital_id))).all()
    return {r.plugin: r for r in rows}


def secret_names(row: HospitalPlugin | None) -> set[str]:
    """Names of the credentials a hospital stored for a plugin (never their values)."""
    return set(_secrets(row))


async def configure_hospital_plugin(
    s: AsyncSession,
    actor: audit.Actor,
    hospital_id: int,
    plugin: str,
    *,
    settings: dict[str, Any],
    secrets: dict[str, str] | None = None,
    clear_secrets: Collection[str] = frozenset(),
    host,
) -> HospitalPlugin:
    """Store a hospital's settings for ``plugin`` after checking them against the plugin's
    ``hospital_settings`` model. ``secrets`` are merged into the stored ones (empty values keep
    them); ``clear_secrets`` deletes some. Raises ``plugin_not_found``, ``plugin_broken``,
    ``no_hospital_settings`` or ``SettingsInvalid`` and then changes nothing."""
    meta = installed_meta(host, plugin)
    if meta is None or meta.hospital_settings is None:
        raise DomainError("no_hospital_settings", f"插件 {plugin} 没有按医院设置的项目", status=404)
    row = await s.scalar(select(HospitalPlugin).where(col(HospitalPlugin.hospital_id) == hospital_id,
                                                      col(HospitalPlugin.plugin) == plugin))
    stored = _secrets(row)
    for name in clear_secrets:
        stored.pop(name, None)
    # Every hospital value is optional: what a hospital leaves empty comes from the city.
    settings, given = validate(plugin, meta.hospital_settings, settings, secrets, stored_secrets=stored, enabled=False)
    before = None
    if row is None:
        row = HospitalPlugin(hospital_id=hospital_id, plugin=plugin)
        s.add(row)
    else:
        before = {"settings": row.settings, "credentials_stored": sorted(stored)}
    stored.update(given)
    row.settings = dict(settings)
    row.secrets_encrypted = seal_secrets(stored)
    row.updated_at = utcnow()
    await _bump_city(s)
    await s.flush()
    audit.record(s, actor, "hospital.plugin", target_type="hospital", target_id=hospital_id,
                 summary=f"{plugin} settings", before=before,
                 after={"settings": row.settings, "credentials_stored": sorted(stored),
                        "credentials_changed": sorted(given) + sorted(clear_secrets)})
    return row


async def _bump_city(s: AsyncSession) -> None:
    """Cached plugin sets of the city are rebuilt (they carry hospital settings too)."""
    from guahao.tenants.context import require_city
    from guahao.tenants.models import City

    city = await s.get(City, require_city().id)
    if city is not None:
        city.config_version += 1
