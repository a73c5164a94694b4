"""The vendor's platform pages: every city, creating a city, entering a city's console."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.errors import Conflict, ValidationFailed
from guahao.core.models.staff import StaffAccount
from guahao.core.staff.vendor import open_city
from guahao.tenants.context import platform_scope, use_cell
from guahao.tenants.models import City, CityPlugin

from ..kit.pages import Console, console_page


async def _cities(c: Console) -> list[dict]:
    staff: dict[int, int] = {}
    with platform_scope("vendor city list"):
        async with c.transaction() as s:
            rows = (await s.scalars(select(City).order_by(City.slug))).all()
        for cell in c.rt.db.cell_names:  # each cell's own cities, not the copies a move left behind
            with use_cell(cell):
                async with c.transaction() as s:
                    staff.update((await s.execute(
                        select(StaffAccount.city_id, func.count()).join(City, City.id == StaffAccount.city_id)
                        .where(StaffAccount.active.is_(True), City.cell == cell).group_by(StaffAccount.city_id)
                    )).all())
    return [{"slug": r.slug, "name": r.name, "timezone": r.timezone, "active": r.active, "staff": staff.get(r.id, 0),
             "created_at": r.created_at} for r in rows]


def _districts(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.replace("，", ",").splitlines():
        code, sep, name = line.replace(":", ",").replace("：", ",").partition(",")
        if code.strip() and name.strip():
            out.append((code.strip(), name.strip()))
    return out


@console_page("vendor.manage", vendor_only=True)
async def cities(c: Console) -> Response:
    errors, error, status = {}, None, 200
    if c.request.method == "POST":
        try:
            city = await open_city(
                c.rt.db, c.actor(), slug=c.form.get("slug", "").strip().lower(), name=c.form.get("name", ""),
                timezone=c.form.get("timezone", "").strip() or "Asia/Shanghai",
                districts=_districts(c.form.get("districts", "")),
            )
            return c.redirect(f"/console/c/{city.slug}/", flash=c._("City %(name)s created.", name=city.name))
        except (ValidationFailed, Conflict) as exc:
            errors, error, status = exc.details or {}, c.refusal(exc), exc.status
    return c.render("vendor/cities.html", status=status, cities=await _cities(c), errors=errors,
                    error=error, values=c.form)


async def _plugin_use(c: Console) -> dict[str, int]:
    use: dict[str, int] = {}
    with platform_scope("vendor plugin use"):
        for cell in c.rt.db.cell_names:
            with use_cell(cell):
                async with c.transaction() as s:
                    for plugin, count in (await s.execute(
                            select(CityPlugin.plugin, func.count()).join(City, City.id == CityPlugin.city_id)
                            .where(CityPlugin.enabled.is_(True), City.cell == cell).group_by(CityPlugin.plugin))).all():
                        use[plugin] = use.get(plugin, 0) + count
    return use


@console_page("vendor.manage", vendor_only=True)
async def plugins(c: Console) -> Response:
    """Every installed plugin (declaration, API range, cities using it) and every broken one."""
    from guahao.core.plugins.loader import discover
    from guahao.core.plugins.meta import API_VERSION

    use = await _plugin_use(c)
    found = discover()
    rows = [{"name": name, "label": p.meta.label(c.lang), "category": p.meta.category_label(c.lang),
             "version": p.meta.version, "compatibility": p.meta.compatibility, "builtin": p.builtin,
             "target": p.target, "migrations": bool(p.meta.migrations), "cities": use.get(name, 0)}
            for name, p in sorted(found.plugins.items())]
    broken = [{"name": b.name, "target": b.target, "stage": b.stage, "reason": b.reason, "cities": use.get(b.name, 0)}
              for _, b in sorted(found.broken.items())]
    return c.render("vendor/plugins.html", plugins=rows, broken=broken, api_version=API_VERSION)


def routes() -> list:
    return [Route("/vendor/", cities, methods=["GET", "POST"]), Route("/vendor/plugins", plugins, methods=["GET"])]
