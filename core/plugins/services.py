"""What a plugin needs for its own tables: a transaction scoped to one city
(:func:`city_session`) and row-level security in its migrations (:func:`protect_tenant_table`).

Plugins never write core tables: they call core's services (``guahao.plugin_api.check_in`` …),
which run the same rules as every other caller.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from guahao.tenants import rls
from guahao.tenants.context import CityContext, use_city


@asynccontextmanager
async def city_session(rt, city: CityContext) -> AsyncIterator:
    """A transaction scoped to ``city``: every query of a tenant table sees only its rows
    and every new row is stamped with its ``city_id``. Commits when the block ends."""
    with use_city(city):
        async with rt.db.transaction() as s:
            yield s


def protect_tenant_table(op, table: str) -> None:
    """In a plugin's migration: on PostgreSQL, put ``table`` behind row-level security by
    ``city_id`` and grant the application role its rights (no-op on SQLite)."""
    rls.protect_tables(op, table)
