"""City settings (R12.1): booking rules, branding, districts, plugins, staff single sign-on.

Rules are validated by ``CityRules`` and refused with an error per field. Plugin secrets are
write-only: the form shows whether each is set, never its value. A plugin module may declare
``SETTINGS_FIELDS`` (a list of ``{"name", "label", "type": "text"|"number"|"bool"|"json",
"secret": bool}``) to get form fields; otherwise its settings are edited as JSON.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from core.errors import Conflict, NotFound, ValidationFailed
from core.plugins.loader import discover
from core.staff import city as city_settings
from core.staff import sso
from tenants.rules import CityRules
from tenants.models import City

from .pages import Console, console_page

RULE_LABELS = {
    "booking_window_days": "Booking window (days ahead)",
    "release_time": "Daily release time",
    "max_active_bookings": "Active bookings per member",
    "cancel_days_before": "Cancel until (days before)",
    "cancel_time": "Cancel until (time of day)",
    "hold_minutes": "Unpaid hold (minutes)",
    "waitlist_offer_minutes": "Waitlist offer (minutes)",
    "late_grace_minutes": "Late check-in grace (minutes)",
    "credit_ladder_days": "Suspension days per no-show (comma separated)",
    "credit_window_days": "No-show counting window (days, empty = calendar year)",
    "booking_cutoff_minutes": "Booking closes before period (minutes)",
}


FIELD_TEXT = {
    "greater_than_equal": "At least %(limit)s.",
    "less_than_equal": "At most %(limit)s.",
    "int_parsing": "Enter a whole number.",
    "int_from_float": "Enter a whole number.",
    "time_parsing": "Enter a time such as 07:30.",
    "time_type": "Enter a time such as 07:30.",
    "value_error": "Enter non-negative numbers separated by commas, e.g. 30, 60, 90.",
    "list_type": "Enter numbers separated by commas.",
    "invalid_url": "Enter an address starting with https://.",
    "invalid_colour": "Enter a colour such as #0b6e4f.",
    "low_contrast": "Too light on a white page: choose a darker colour so older patients can read it.",
    "too_long": "Too long.",
    "required": "Required.",
    "taken": "Already in use.",
    "json": "Not valid JSON.",
    "number": "Enter a number.",
}


def field_errors(c: Console, details) -> dict[str, str]:
    """Readable per-field messages for the error codes of ``ValidationFailed.details``."""
    out = {}
    for field, code in (details or {}).items():
        kind, _, limit = str(code).partition(":")
        text = FIELD_TEXT.get(kind)
        out[field] = c._(text, limit=limit) if text and "%(limit)s" in text else c._(text) if text else c._("Invalid value.")
    return out


def _after_change(c: Console) -> None:
    """A changed city is re-read at once in this process (others see it within seconds)."""
    c.rt.resolver.invalidate(c.city.slug)


def _rule_form(rules: CityRules) -> dict[str, str]:
    out = {}
    for key, value in rules.model_dump(mode="json").items():
        if isinstance(value, list):
            out[key] = ", ".join(str(v) for v in value)
        elif value is None:
            out[key] = ""
        else:
            out[key] = str(value)[:5] if key.endswith("time") else str(value)
    return out


def _rule_changes(form: dict[str, str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key in CityRules.model_fields:
        if key not in form:
            continue
        raw = form[key].strip()
        if key == "credit_ladder_days":
            changes[key] = [p.strip() for p in raw.replace("，", ",").split(",") if p.strip()]
        elif key == "credit_window_days" and raw == "":
            changes[key] = None
        else:
            changes[key] = raw
    return changes


async def _city_row(c: Console) -> City:
    async with c.transaction() as s:
        return await s.get(City, c.city.id)


@console_page("city.configure")
async def rules(c: Console) -> Response:
    if c.request.method == "POST":
        try:
            async with c.transaction() as s:
                await city_settings.update_rules(s, c.actor(), _rule_changes(c.form))
        except ValidationFailed as exc:
            return c.render("settings/rules.html", status=422, values=c.form, errors=field_errors(c, exc.details),
                            labels=RULE_LABELS, error=c._("The rules were not saved: please correct the marked fields."))
        _after_change(c)
        return c.redirect("settings", flash=c._("Rules saved."))
    row = await _city_row(c)
    return c.render("settings/rules.html", values=_rule_form(CityRules.model_validate(row.rules or {})), errors={},
                    labels=RULE_LABELS)


@console_page("city.configure")
async def branding(c: Console) -> Response:
    if c.request.method == "POST":
        try:
            async with c.transaction() as s:
                await city_settings.update_branding(s, c.actor(), c.form)
        except ValidationFailed as exc:
            return c.render("settings/branding.html", status=422, values=c.form, errors=field_errors(c, exc.details))
        _after_change(c)
        return c.redirect("settings/branding", flash=c._("Branding saved."))
    row = await _city_row(c)
    return c.render("settings/branding.html", values=row.branding or {}, errors={})


@console_page("city.configure")
async def districts(c: Console) -> Response:
    error, errors = None, {}
    if c.request.method == "POST":
        try:
            async with c.transaction() as s:
                await city_settings.save_district(s, c.actor(), code=c.form.get("code", ""), name=c.form.get("name", ""),
                                                  district_id=c.int_field("district_id"))
            return c.redirect("settings/districts", flash=c._("District saved."))
        except (ValidationFailed, Conflict) as exc:
            error, errors = c.refusal(exc), field_errors(c, exc.details)
    async with c.transaction() as s:
        rows = await city_settings.list_districts(s)
    return c.render("settings/districts.html", status=422 if error else 200, rows=rows, error=error, errors=errors,
                    values=c.form)


def _describe(module) -> str:
    doc = (module.__doc__ or "").strip().splitlines()
    return doc[0] if doc else ""


@console_page("city.configure")
async def plugins(c: Console) -> Response:
    async with c.transaction() as s:
        rows = await city_settings.plugin_rows(s)
    available = discover()
    items = [{"name": name, "description": _describe(module), "enabled": bool(rows.get(name) and rows[name].enabled)}
             for name, module in sorted(available.items())]
    return c.render("settings/plugins.html", items=items)


def _plugin_module(name: str):
    module = discover().get(name)
    if module is None:
        raise NotFound("plugin", code="plugin_not_found")
    return module


def _posted_settings(c: Console, fields: list[dict] | None, current: dict) -> tuple[dict, dict[str, str], dict[str, str]]:
    """(settings, secrets, errors) from the form."""
    errors: dict[str, str] = {}
    secrets = {k[len("secret:"):]: v for k, v in c.form.items() if k.startswith("secret:") and v}
    new_name, new_value = c.form.get("new_secret_name", "").strip(), c.form.get("new_secret_value", "")
    if new_name and new_value:
        secrets[new_name] = new_value
    if fields:
        settings = dict(current)
        for f in fields:
            if f.get("secret"):
                continue
            name, kind, raw = f["name"], f.get("type", "text"), c.form.get(f"setting:{f['name']}", "")
            if kind == "bool":
                settings[name] = raw == "on"
            elif kind == "number":
                try:
                    settings[name] = float(raw) if "." in raw else int(raw) if raw else None
                except ValueError:
                    errors[name] = "number"
            elif kind == "json":
                try:
                    settings[name] = json.loads(raw) if raw.strip() else None
                except ValueError:
                    errors[name] = "json"
            else:
                settings[name] = raw
        return settings, secrets, errors
    raw = c.form.get("settings_json", "").strip() or "{}"
    try:
        settings = json.loads(raw)
        if not isinstance(settings, dict):
            raise ValueError
    except ValueError:
        errors["settings_json"] = "json"
        settings = current
    return settings, secrets, errors


@console_page("city.configure")
async def plugin(c: Console) -> Response:
    name = c.request.path_params["name"]
    module = _plugin_module(name)
    fields = getattr(module, "SETTINGS_FIELDS", None)
    async with c.transaction() as s:
        row = (await city_settings.plugin_rows(s)).get(name)
    current = dict(row.settings or {}) if row else {}
    stored = city_settings.secret_names(row)
    errors: dict[str, str] = {}
    settings_json = json.dumps(current, ensure_ascii=False, indent=2)
    if c.request.method == "POST":
        settings, secrets, errors = _posted_settings(c, fields, current)
        if not errors:
            clear = {k[len("clear:"):] for k in c.form if k.startswith("clear:")}
            async with c.transaction() as s:
                await city_settings.configure_plugin(s, c.actor(), name, enabled=c.form.get("enabled") == "on",
                                                     settings=settings, secrets=secrets, clear_secrets=clear)
            _after_change(c)
            return c.redirect(f"settings/plugins/{name}", flash=c._("Plugin settings saved."))
        settings_json = c.form.get("settings_json", settings_json)
    secret_fields = sorted({f["name"] for f in fields or [] if f.get("secret")} | stored)
    return c.render("settings/plugin.html", status=422 if errors else 200, name=name, description=_describe(module),
                    enabled=bool(row and row.enabled), fields=fields, current=current, settings_json=settings_json,
                    secret_fields=secret_fields, stored=stored, errors=errors)


@console_page("city.configure")
async def sso_settings(c: Console) -> Response:
    errors: dict = {}
    if c.request.method == "POST":
        try:
            async with c.transaction() as s:
                await sso.configure_provider(
                    s, c.actor(), discovery_url=c.form.get("discovery_url", ""), client_id=c.form.get("client_id", ""),
                    client_secret=c.form.get("client_secret") or None, label=c.form.get("label", ""),
                    enabled=c.form.get("enabled") == "on", match_email=c.form.get("match_email") == "on",
                )
            return c.redirect("settings/sso", flash=c._("Single sign-on settings saved."))
        except ValidationFailed as exc:
            errors = field_errors(c, exc.details)
    async with c.transaction() as s:
        view = sso.provider_view(await sso.get_provider(s))
    values = {**view, **{k: v for k, v in c.form.items() if k not in ("client_secret", "csrf")}} if errors else view
    callback = f"{c.request.base_url}console/c/{c.city.slug}/sso/callback"
    return c.render("settings/sso.html", status=422 if errors else 200, values=values, errors=errors, callback=callback)


def routes() -> list:
    return [
        Route("/c/{city}/settings", rules, methods=["GET", "POST"]),
        Route("/c/{city}/settings/branding", branding, methods=["GET", "POST"]),
        Route("/c/{city}/settings/districts", districts, methods=["GET", "POST"]),
        Route("/c/{city}/settings/plugins", plugins, methods=["GET"]),
        Route("/c/{city}/settings/plugins/{name}", plugin, methods=["GET", "POST"]),
        Route("/c/{city}/settings/sso", sso_settings, methods=["GET", "POST"]),
    ]
