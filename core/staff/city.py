"""City configuration changed by staff (R12.1): rules, branding, districts, plugins.

Each function changes the current city inside the caller's transaction, bumps the city's
``config_version`` (so cached plugin sets and city contexts are rebuilt) and records the
change in the audit log. Plugin secrets are merged and stored encrypted; the audit log only
learns which secret names changed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.core.errors import Conflict, NotFound, ValidationFailed
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city
from guahao.tenants.crypto import open_secrets, seal_secrets
from guahao.tenants.models import City, CityPlugin, District
from guahao.tenants.rules import CityRules

COLOUR_RE = re.compile(r"#[0-9a-fA-F]{6}")
BRANDING_FIELDS = ("display_name", "logo_url", "primary_colour", "accent_colour")


async def _city_row(s: AsyncSession) -> City:
    row = await s.get(City, require_city().id)
    if row is None:
        raise NotFound("city", code="city_not_found")
    return row


def rule_errors(exc: ValidationError) -> dict[str, str]:
    """Field → ``type`` or ``type:limit`` of a rules validation error (for per-field display),
    e.g. ``{"booking_window_days": "less_than_equal:90"}``."""
    out = {}
    for e in exc.errors():
        field = str(e["loc"][0]) if e["loc"] else "rules"
        ctx = e.get("ctx") or {}
        limit = next((ctx[k] for k in ("ge", "le", "gt", "lt") if k in ctx), None)
        out.setdefault(field, f"{e['type']}:{limit}" if limit is not None else e["type"])
    return out


async def update_rules(s: AsyncSession, actor: audit.Actor, changes: dict[str, Any]) -> CityRules:
    """Validate the rules as a whole (``CityRules``) and store them."""
    row = await _city_row(s)
    before = dict(row.rules or {})
    try:
        merged = CityRules.model_validate({**before, **changes})
    except ValidationError as exc:
        raise ValidationFailed("invalid_rules", "some rules are out of range", details=rule_errors(exc)) from None
    row.rules = json.loads(merged.model_dump_json())
    if row.rules != before:
        row.config_version += 1
        audit.record(s, actor, "city.rules", target_type="city", target_id=row.id, summary=row.slug,
                     before=before, after=row.rules)
    return merged


# Against the white page: the primary colour carries white button text and link text (WCAG AA
# for text, 4.5:1); the accent colour only draws lines (3:1 for graphics).
MIN_CONTRAST = {"primary_colour": 4.5, "accent_colour": 3.0}


def contrast_with_white(colour: str) -> float:
    """WCAG contrast ratio of ``#rrggbb`` against white."""
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def check_branding(values: dict[str, str]) -> dict[str, str]:
    """The branding fields, trimmed; raises ValidationFailed for a bad URL or colour."""
    out = {k: str(values.get(k) or "").strip() for k in BRANDING_FIELDS}
    errors = {}
    if len(out["display_name"]) > 100:
        errors["display_name"] = "too_long"
    if out["logo_url"] and not (out["logo_url"].startswith("https://") or out["logo_url"].startswith("/")):
        errors["logo_url"] = "invalid_url"
    for key, least in MIN_CONTRAST.items():
        if out[key] and not COLOUR_RE.fullmatch(out[key]):
            errors[key] = "invalid_colour"
        elif out[key] and contrast_with_white(out[key]) < least:
            errors[key] = "low_contrast"
    if errors:
        raise ValidationFailed("invalid_branding", "some branding values are invalid", details=errors)
    return out


async def update_branding(s: AsyncSession, actor: audit.Actor, values: dict[str, str]) -> dict[str, str]:
    """Name, logo and colours the patient site shows (``City.branding``)."""
    branding = check_branding(values)
    row = await _city_row(s)
    before = dict(row.branding or {})
    row.branding = {**before, **branding}
    if row.branding != before:
        row.config_version += 1
        audit.record(s, actor, "city.branding", target_type="city", target_id=row.id, summary=row.slug,
                     before=before, after=row.branding)
    return row.branding


async def list_districts(s: AsyncSession) -> list[District]:
    return list((await s.scalars(select(District).order_by(District.code))).all())


async def save_district(
    s: AsyncSession, actor: audit.Actor, *, code: str, name: str, district_id: int | None = None
) -> District:
    """Add a district, or rename/recode one; codes are unique in the city."""
    code, name = (code or "").strip(), (name or "").strip()
    errors = {}
    if not code or len(code) > 20:
        errors["code"] = "required"
    if not name or len(name) > 100:
        errors["name"] = "required"
    if errors:
        raise ValidationFailed("invalid_district", "a district needs a code and a name", details=errors)
    clash = await s.scalar(select(District.id).where(District.code == code))
    if clash is not None and clash != district_id:
        raise Conflict("district_code_taken", f"区划代码 {code} 已存在 / district code {code} exists",
                       details={"code": "taken"})
    if district_id is None:
        district = District(code=code, name=name)
        s.add(district)
        await s.flush()
        audit.record(s, actor, "district.create", target_type="district", target_id=district.id,
                     summary=f"{code} {name}", after={"code": code, "name": name})
        return district
    district = await s.get(District, district_id)
    if district is None or district.city_id != require_city().id:
        raise NotFound("district", code="district_not_found")
    before = {"code": district.code, "name": district.name}
    district.code, district.name = code, name
    audit.record(s, actor, "district.update", target_type="district", target_id=district.id,
                 summary=f"{code} {name}", before=before, after={"code": code, "name": name})
    return district


async def plugin_rows(s: AsyncSession) -> dict[str, CityPlugin]:
    return {r.plugin: r for r in (await s.scalars(select(CityPlugin))).all()}


def secret_names(row: CityPlugin | None) -> set[str]:
    """Names of the secrets stored for a plugin (the values are never shown)."""
    if row is None or not row.secrets_encrypted:
        return set()
    return set(open_secrets(row.secrets_encrypted))


async def configure_plugin(
    s: AsyncSession,
    actor: audit.Actor,
    plugin: str,
    *,
    enabled: bool,
    settings: dict[str, Any],
    secrets: dict[str, str] | None = None,
    clear_secrets: set[str] = frozenset(),
    host=None,
) -> CityPlugin:
    """Enable/disable a plugin with its settings. ``secrets`` are merged into the stored ones
    (an empty value keeps the stored one); ``clear_secrets`` names secrets to delete.

    With ``host`` (the runtime's plugin host) everything is first checked against the plugin's
    declared settings model, counting the stored secrets that stay: a refusal raises
    (``SettingsInvalid``, ``plugin_not_found``, ``plugin_broken``) and changes nothing."""
    row = await s.scalar(select(CityPlugin).where(CityPlugin.plugin == plugin))
    stored = open_secrets(row.secrets_encrypted if row else "")
    for name in clear_secrets:
        stored.pop(name, None)
    given = {k: v for k, v in (secrets or {}).items() if v}
    if host is not None:
        from guahao.core.plugins.config import check

        settings, given = check(host, plugin, settings, given, stored_secrets=stored, enabled=enabled)
    before = None
    if row is None:
        row = CityPlugin(plugin=plugin, enabled=enabled)
        s.add(row)
    else:
        before = {"enabled": row.enabled, "settings": row.settings, "credentials_stored": sorted(secret_names(row))}
    changed = sorted(given)
    stored.update(given)
    row.enabled = enabled
    row.settings = dict(settings)
    row.secrets_encrypted = seal_secrets(stored)
    row.updated_at = utcnow()
    city = await _city_row(s)
    city.config_version += 1
    await s.flush()
    after = {"enabled": enabled, "settings": row.settings, "credentials_stored": sorted(stored),
             "credentials_changed": changed + sorted(clear_secrets)}
    audit.record(s, actor, "city.plugin", target_type="plugin", target_id=plugin,
                 summary=f"{plugin} {'enabled' if enabled else 'disabled'}", before=before, after=after)
    return row
