"""A hospital's own settings for its city's plugins: its HIS address and credentials, its
merchant account (R7, R6). Hospital admins set their own hospital's; city admins any hospital's.

Only plugins the city enabled and that declare ``hospital_settings`` are offered. Values left
empty come from the city's settings; credentials are write-only.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.errors import NotFound
from guahao.core.plugins import hospital as hospital_config
from guahao.core.plugins import settings as plugin_settings

from ..city.settings import field_rows, save_plugin_form
from ..kit.pages import Console, console_page


def _hospital_plugins(c: Console, plugins) -> list[tuple[str, object]]:
    """``(name, meta)`` of the city's enabled plugins that a hospital can set for itself."""
    out = []
    for name in sorted(plugins.names):
        meta = c.rt.plugins.meta(name)
        if meta is not None and meta.hospital_settings is not None:
            out.append((name, meta))
    return out


@console_page("hospital.manage")
async def hospital_plugins(c: Console) -> Response:
    hospital_id = c.request.path_params["id"]
    async with c.transaction() as s:
        hospital = await c.check_hospital(s, hospital_id)
        rows = await hospital_config.hospital_rows(s, hospital.id)
    plugins = await c.rt.plugins.for_city(c.city)
    items = [{"name": name, "label": meta.label(c.lang), "description": meta.summary(c.lang),
              "category": meta.category_label(c.lang), "set": name in rows}
             for name, meta in _hospital_plugins(c, plugins)]
    return c.render("catalogue/hospital_plugins.html", hospital=hospital, items=items)


@console_page("hospital.manage")
async def hospital_plugin(c: Console) -> Response:
    hospital_id, name = c.request.path_params["id"], c.request.path_params["name"]
    plugins = await c.rt.plugins.for_city(c.city)
    meta = dict(_hospital_plugins(c, plugins)).get(name)
    async with c.transaction() as s:
        hospital = await c.check_hospital(s, hospital_id)
        row = (await hospital_config.hospital_rows(s, hospital.id)).get(name)
    if meta is None:
        raise NotFound("plugin", code="plugin_not_found")
    fields = plugin_settings.form_fields(meta.hospital_settings)
    values = dict(row.settings or {}) if row else {}
    stored = hospital_config.secret_names(row)
    errors: dict = {}
    if c.request.method == "POST":

        async def store(s, values, secrets, clear):
            await hospital_config.configure_hospital_plugin(
                s, c.actor(), hospital.id, name, settings=values, secrets=secrets, clear_secrets=clear,
                host=c.rt.plugins)

        values, errors = await save_plugin_form(c, name, meta.hospital_settings, store)
        if not errors:
            c.rt.resolver.invalidate(c.city.slug)
            return c.redirect(f"catalogue/{hospital.id}/plugins/{name}", flash=c._("Plugin settings saved."))
    rows = field_rows(c, fields, values, errors, inherited=plugins.settings(name))
    return c.render("catalogue/hospital_plugin.html", status=422 if errors else 200, hospital=hospital, name=name,
                    label=meta.label(c.lang), description=meta.summary(c.lang),
                    fields=[r for r in rows if not r["spec"].secret], secrets=[r for r in rows if r["spec"].secret],
                    stored=stored, errors=errors)


def routes() -> list:
    return [
        Route("/c/{city}/catalogue/{id:int}/plugins", hospital_plugins, methods=["GET"]),
        Route("/c/{city}/catalogue/{id:int}/plugins/{name}", hospital_plugin, methods=["GET", "POST"]),
    ]
