"""Migration licensing_0003 goes down and up again, and the ``licences`` table it makes is the model's."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

import guahao.licensing.licences.models  # noqa: F401  (the table joins the metadata)
from guahao.core.migrate import alembic_config, upgrade
from guahao.tenants.settings import Settings


def _touches_licences(diff) -> bool:
    text = repr(diff)
    return "'licences'" in text or "table=<licences>" in text or "Table('licences'" in text


def _roundtrip(path):
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", secret_key="m" * 48)
    upgrade(settings)
    command.downgrade(alembic_config(settings), "licensing_0002")
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        before = set(inspect(conn).get_table_names())
    upgrade(settings)
    with engine.connect() as conn:
        after = set(inspect(conn).get_table_names())
        columns = {c["name"] for c in inspect(conn).get_columns("licences")}
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    engine.dispose()
    return before, after, columns, [d for d in diff if _touches_licences(d)]


async def test_licensing_0003_down_and_up_on_sqlite(tmp_path):
    before, after, columns, diff = await asyncio.to_thread(_roundtrip, tmp_path / "m.sqlite3")
    assert "licences" not in before and "licences" in after
    assert {"licence_id", "token", "key_id", "valid_from", "valid_until", "revoked_at"} <= columns
    assert diff == []
