"""Bootstrap commands (``guahao staff create``, ``guahao vendor create``) and migration 0005."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel

from guahao.core.cli import main
from guahao.core.migrate import alembic_config, upgrade
from guahao.tenants.settings import Settings

NEW_TABLES = {"staff_accounts", "vendor_accounts", "staff_sso_providers"}


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUAHAO_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("GUAHAO_DATA_KEY", settings.data_key)
    monkeypatch.delenv("DATABASE_APP_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return settings


def test_staff_and_vendor_bootstrap_commands(env, capsys):
    slug = f"cli{uuid.uuid4().hex[:8]}"
    assert main(["city", "create", slug, "命令市"]) == 0
    argv = ["staff", "create", "--city", slug, "--role", "city_admin", "--username", "boss", "--password"]
    assert main([*argv, "short"]) == 1
    assert "至少 10 位" in capsys.readouterr().err
    assert main([*argv, "long-enough-1"]) == 0
    assert f"/console/c/{slug}/login" in capsys.readouterr().out
    assert main([*argv, "long-enough-1"]) == 1
    assert "taken" in capsys.readouterr().err
    assert main(["staff", "create", "--city", slug, "--role", "scheduler", "--username", "s1",
                 "--password", "long-enough-1", "--hospital", "NOPE"]) == 1
    assert main(["staff", "create", "--city", "no-such-city", "--role", "agent", "--username", "a1",
                 "--password", "long-enough-1"]) == 1
    vendor = f"ops{uuid.uuid4().hex[:6]}"
    assert main(["vendor", "create", "--username", vendor, "--password", "long-enough-1"]) == 0
    assert main(["vendor", "create", "--username", vendor, "--password", "long-enough-1"]) == 1


def _roundtrip(path) -> tuple[set[str], set[str], list]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", secret_key="m" * 48)
    upgrade(settings)
    command.downgrade(alembic_config(settings), "0004")
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        before = set(inspect(conn).get_table_names())
    upgrade(settings)
    with engine.connect() as conn:
        after = set(inspect(conn).get_table_names())
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    engine.dispose()
    return before, after, diff


async def test_0005_down_and_up_on_sqlite(tmp_path):
    before, after, diff = await asyncio.to_thread(_roundtrip, tmp_path / "m.sqlite3")
    assert not NEW_TABLES & before and NEW_TABLES <= after
    assert diff == []
