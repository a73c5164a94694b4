"""City settings (R12.1): booking rules, branding, districts, plugins, staff single sign-on.

Rules are validated by ``CityRules`` and refused with an error per field. Plugin secrets are
write-only: the form shows whether each is set, never its value. A plugin's form is drawn from
its declared settings model (``core.plugins.settings``); what is posted is checked against the
same model, and a refusal names every wrong field and stores nothing.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.errors import Conflict, NotFound, ValidationFailed
from guahao.core.plugins import settings as plugin_settings
from guahao.core.plugins.settings import SettingsInvalid
from guahao.core.staff import city as city_settings
from guahao.core.staff import sso
from guahao.tenants.models import City
from guahao.tenants.rules import CityRules

from ..kit.pages import Console, console_page

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


def _plugin_items(c: Console, rows: dict) -> list[dict]:
    """Every installed plugin and every broken one, grouped by category for the list page."""
    lang = c.lang
    items = []
    for name in c.rt.plugins.names():
        meta = c.rt.plugins.meta(name)
        if meta is None:
            continue
        row = rows.get(name)
        items.append({"name": name, "label": meta.label(lang), "description": meta.summary(lang),
                      "category": meta.category_label(lang), "version": meta.version,
                      "enabled": bool(row and row.enabled) or meta.always_enabled, "always": meta.always_enabled,
                      "broken": None})
    for broken in c.rt.plugins.broken():
        items.append({"name": broken.name, "label": broken.name, "description": "", "category": "",
                      "version": "", "enabled": False, "broken": f"{broken.stage}: {broken.reason}"})
    return sorted(items, key=lambda i: (i["broken"] is not None, i["category"], i["name"]))


@console_page("city.configure")
async def plugins(c: Console) -> Response:
    async with c.transaction() as s:
        rows = await city_settings.plugin_rows(s)
    return c.render("settings/plugins.html", items=_plugin_items(c, rows))


def _plugin_meta(c: Console, name: str):
    meta = c.rt.plugins.meta(name) if name in c.rt.plugins.names() else None
    if meta is None:
        raise NotFound("plugin", code="plugin_not_found")
    return meta


async def save_plugin_form(c: Console, name: str, model, store) -> tuple[dict, dict]:
    """Read a posted plugin settings form (``model``'s fields) and store it with
    ``await store(session, settings, secrets, clear)`` in one transaction.

    Returns ``(values, errors)``: no errors when it was stored; otherwise the posted values to
    show again and every field's error — inputs that could not even be read (bad JSON) are
    reported with the model's refusals, and nothing is stored.
    """
    fields = plugin_settings.form_fields(model)
    values, unreadable = plugin_settings.from_form(model, c.form)
    secrets = {f.name: c.form.get(f"secret:{f.name}", "") for f in fields if f.secret}
    clear = {f.name for f in fields if f.secret and c.form.get(f"clear:{f.name}") == "on"}
    try:
        async with c.transaction() as s:
            await store(s, values, secrets, clear)
            if unreadable:
                raise SettingsInvalid(name, unreadable)  # rolls the change back
    except SettingsInvalid as exc:
        return {**values, **{k: c.form.get(f"setting:{k}", "") for k in unreadable}}, {**exc.errors, **unreadable}
    return values, {}


def field_rows(c: Console, fields, values: dict, errors: dict, inherited: dict | None = None) -> list[dict]:
    """Rows of a plugin settings form: each field with its label, help, value and error in the
    reader's language. ``inherited`` values (the city's, on a hospital's form) are the
    placeholders of empty inputs."""
    out = []
    for f in fields:
        shown = (inherited or {}).get(f.name, f.example if f.example is not None else f.default)
        label, help_text = f.text(c.lang)
        error = errors.get(f.name)
        out.append({"spec": f, "label": label, "help": help_text, "error": error.text(c.lang) if error else "",
                    "value": values.get(f.name, f.default) if f.widget == "bool" else
                    plugin_settings.as_form_value(f, values.get(f.name, f.default if f.widget == "choice" else None)),
                    "placeholder": plugin_settings.as_form_value(f, shown)})
    return out


@console_page("city.configure")
async def plugin(c: Console) -> Response:
    name = c.request.path_params["name"]
    meta = _plugin_meta(c, name)
    fields = plugin_settings.form_fields(meta.settings)
    async with c.transaction() as s:
        row = (await city_settings.plugin_rows(s)).get(name)
    values = dict(row.settings or {}) if row else {}
    enabled = bool(row and row.enabled)
    stored = city_settings.secret_names(row)
    errors: dict = {}
    if c.request.method == "POST":
        enabled = c.form.get("enabled") == "on" or meta.always_enabled


        async def store(s, values, secrets, clear):
            await city_settings.configure_plugin(s, c.actor(), name, enabled=enabled, settings=values,
                                                 secrets=secrets, clear_secrets=clear, host=c.rt.plugins)

        values, errors = await save_plugin_form(c, name, meta.settings, store)
        if not errors:
            _after_change(c)
            return c.redirect(f"settings/plugins/{name}", flash=c._("Plugin settings saved."))
    rows = field_rows(c, fields, values, errors)
    return c.render("settings/plugin.html", status=422 if errors else 200, name=name, label=meta.label(c.lang),
                    description=meta.summary(c.lang), version=meta.version, enabled=enabled or meta.always_enabled,
                    always=meta.always_enabled, fields=[r for r in rows if not r["spec"].secret],
                    secrets=[r for r in rows if r["spec"].secret],
                    stored=stored, errors=errors,
                    unknown=plugin_settings.unknown(meta.settings, (row.settings or {}) if row else {}))


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
