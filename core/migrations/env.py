"""Alembic environment: async engine, owner connection, same migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import guahao.core.models  # noqa: F401  (registers every table)
from guahao.core.plugins.loader import import_plugin_models
from guahao.tenants import rls

import_plugin_models()

config = context.config
target_metadata = SQLModel.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run_sync(connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()
        _align_roles(connection)


def _align_roles(connection) -> None:
    """On PostgreSQL, every run leaves the application and platform logins as ``tenants.rls``
    defines them, so a database migrated by an earlier release loses what that release granted
    (the application role's membership in the platform role)."""
    if connection.dialect.name != "postgresql":
        return
    for stmt in rls.roles_sql(config.attributes.get("app_role", "guahao_app")):
        connection.exec_driver_sql(stmt)


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run_sync(connectable)
    else:
        asyncio.run(_run_async())
