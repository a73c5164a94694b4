"""Append-only tables: rows the application may add and read but never change or remove
(the usage ledger). The database refuses, not Python:

- PostgreSQL: a trigger refuses ``UPDATE``, ``DELETE`` and ``TRUNCATE`` for every role except
  the table's owner (migrations, and the owner-run erasure of a whole city below), and the
  application roles lose those privileges too;
- SQLite: triggers refuse ``UPDATE`` and ``DELETE`` for everyone.

A model opts in with ``__append_only__ = True``; its migration calls :func:`protect` after
creating the table. Removing a city (``guahao demo --reset``) erases its rows with
:func:`erase_city`, an owner's act that lifts the refusal for that one statement only.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

REFUSAL = "append-only table: rows cannot be changed or deleted"
_FUNCTION = "guahao_refuse_change"


def _pg_function_sql() -> str:
    # The owner (who runs migrations) passes; everyone else is refused.
    return f"""CREATE OR REPLACE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_user = (SELECT tableowner FROM pg_tables WHERE schemaname = TG_TABLE_SCHEMA AND tablename = TG_TABLE_NAME) THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    IF TG_OP = 'TRUNCATE' THEN RETURN NULL; END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION '{REFUSAL} (%)', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$"""


def pg_sql(table: str, app_roles: tuple[str, ...]) -> list[str]:
    """Statements that make ``table`` append-only on PostgreSQL (idempotent)."""
    out = [
        _pg_function_sql(),
        f'DROP TRIGGER IF EXISTS {table}_append_only ON "{table}"',
        f'CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON "{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()",
        f'DROP TRIGGER IF EXISTS {table}_no_truncate ON "{table}"',
        f'CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON "{table}" '
        f"FOR EACH STATEMENT EXECUTE FUNCTION {_FUNCTION}()",
    ]
    out += [f'REVOKE UPDATE, DELETE, TRUNCATE ON "{table}" FROM "{role}"' for role in app_roles]
    return out


def sqlite_sql(table: str) -> list[str]:
    """Statements that make ``table`` append-only on SQLite (idempotent)."""
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_update",
        f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
        f"DROP TRIGGER IF EXISTS {table}_no_delete",
        f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END",
    ]


def protect(op, table: str, app_role_default: str = "guahao_app") -> None:
    """In a migration: make ``table`` append-only on this database."""
    from alembic import context

    from .rls import platform_role

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        role = context.config.attributes.get("app_role", app_role_default)
        for stmt in pg_sql(table, (role, platform_role(role))):
            op.execute(stmt)
    else:
        for stmt in sqlite_sql(table):
            op.execute(stmt)


def unprotect(op, table: str) -> None:
    """In a migration's downgrade: drop the triggers (the function stays for other tables)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'DROP TRIGGER IF EXISTS {table}_append_only ON "{table}"')
        op.execute(f'DROP TRIGGER IF EXISTS {table}_no_truncate ON "{table}"')
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")


async def erase_city(settings, tables: list[str], city_id: int) -> None:
    """Delete one city's rows of append-only ``tables``: the whole city is being removed.

    On PostgreSQL this runs as the tables' owner (the migration connection), whom the trigger
    lets through, with the city set for row-level security; on SQLite the triggers are
    dropped and created again inside the same transaction.
    """
    if not tables:
        return
    from .db import make_engine

    engine = make_engine(settings.owner_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await _erase(conn, tables, city_id)
    finally:
        await engine.dispose()


async def _erase(conn: AsyncConnection, tables: list[str], city_id: int) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT set_config('app.city_id', :c, true)"), {"c": str(city_id)})
        for table in tables:
            await conn.execute(text(f'DELETE FROM "{table}" WHERE city_id = :c'), {"c": city_id})
        return
    for table in tables:
        await conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        await conn.execute(text(f"DELETE FROM {table} WHERE city_id = :c"), {"c": city_id})
        await conn.execute(text(sqlite_sql(table)[3]))
