"""Migration 0003 goes down and up again, and the upgraded schema matches the models."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from guahao.core.migrate import alembic_config, upgrade
from guahao.tenants.settings import Settings

NEW_TABLES = {"survey_responses", "doctor_reviews", "complaints", "announcements", "knowledge_articles"}


def _roundtrip(path) -> tuple[set[str], set[str], set[str], list]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", secret_key="m" * 48)
    upgrade(settings)
    command.downgrade(alembic_config(settings), "0002")
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        before = set(inspect(conn).get_table_names())
    upgrade(settings)
    with engine.connect() as conn:
        after = set(inspect(conn).get_table_names())
        member_columns = {c["name"] for c in inspect(conn).get_columns("members")}
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    engine.dispose()
    return before, after, member_columns, diff


async def test_0003_down_and_up_on_sqlite(tmp_path):
    before, after, member_columns, diff = await asyncio.to_thread(_roundtrip, tmp_path / "m.sqlite3")
    assert not NEW_TABLES & before and NEW_TABLES <= after
    assert {"email", "wechat_openid"} <= member_columns
    assert diff == []
