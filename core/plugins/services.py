"""Services of the platform a plugin may call, by the plugin API's contract.

Plugins never write core tables: they ask core to do it through these functions, which run
the same rules as every other caller. A plugin's own tables (declared on ``TenantModel`` and
migrated by its own branch) are read and written in :func:`city_session`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tenants.context import CityContext, use_city


@asynccontextmanager
async def city_session(rt, city: CityContext) -> AsyncIterator:
    """A transaction scoped to ``city``: every query of a tenant table sees only its rows
    and every new row is stamped with its ``city_id``. Commits when the block ends."""
    with use_city(city):
        async with rt.db.transaction() as s:
            yield s


async def check_in(rt, city: CityContext, booking_id: str, *, source: str) -> dict:
    """The hospital saw the patient (取号 at the window or kiosk): check the booking in (R4.1).

    ``source`` names who reported it (``his:<plugin>``) in the booking's history. Returns the
    booking as the API shows it; raises ``DomainError`` (``not_found``, ``invalid_state`` …).
    """
    from core.booking import engine
    from core.booking.views import booking_view

    async with city_session(rt, city) as s:
        booking = await engine.check_in(s, booking_id, actor=source)
        view = await booking_view(s, booking)
    return view.model_dump(mode="json")


def protect_tenant_table(op, table: str, app_role_default: str = "guahao_app") -> None:
    """In a plugin's migration: on PostgreSQL, put ``table`` behind row-level security by
    ``city_id`` and grant the application role its rights (no-op on SQLite)."""
    from alembic import context

    from tenants import rls

    if op.get_bind().dialect.name != "postgresql":
        return
    for stmt in rls.enable_rls_sql(table):
        op.execute(stmt)
    for stmt in rls.grants_sql(context.config.attributes.get("app_role", app_role_default)):
        op.execute(stmt)
