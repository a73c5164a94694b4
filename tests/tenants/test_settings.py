"""Every environment knob is read once, into the settings object; the code reads that."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest

from guahao.core.booking.gate import MemoryGate, RedisGate, make_gate
from guahao.core.cli import main
from guahao.tenants.db import PLATFORM_POOL_SIZE, Database
from guahao.tenants.settings import DEFAULT_POOL_SIZE, Settings, SettingsError

PG = "postgresql://guahao@127.0.0.1:1/nothing"
KEY = "k" * 40


def test_pool_pre_ping_and_import_folder_come_from_the_environment():
    s = Settings.from_env({"GUAHAO_DB_POOL_SIZE": "25", "GUAHAO_DB_PRE_PING": "true",
                           "GUAHAO_IMPORT_DIR": "/srv/guahao/imports"})
    assert (s.db_pool_size, s.db_pre_ping, s.import_path) == (25, True, Path("/srv/guahao/imports"))
    d = Settings.from_env({})
    assert (d.db_pool_size, d.db_pre_ping) == (DEFAULT_POOL_SIZE, False)
    assert d.import_path == Path(tempfile.gettempdir()) / "guahao-console-imports"
    assert Settings.from_env({"GUAHAO_DB_POOL_SIZE": "25"}, db_pool_size=3).db_pool_size == 3


@pytest.mark.parametrize("value", ["abc", "0", "-4", "2.5"])
def test_a_bad_pool_size_is_a_one_line_error(value, monkeypatch, capsys):
    with pytest.raises(SettingsError) as exc:
        Settings.from_env({"GUAHAO_DB_POOL_SIZE": value})
    assert str(exc.value) == f"GUAHAO_DB_POOL_SIZE must be a whole number of at least 1, not {value!r}"
    monkeypatch.setenv("GUAHAO_DB_POOL_SIZE", value)
    assert main(["city", "list"]) == 1
    assert capsys.readouterr().err == f"error: {exc.value}\n"


async def test_the_database_pool_follows_the_settings():
    db = Database(Settings(database_url=PG, secret_key=KEY, db_pool_size=7, db_pre_ping=True))
    try:
        assert db.engine.pool.size() == 7 and db.engine.pool._pre_ping is True
    finally:
        await db.dispose()


def test_the_platform_login_defaults_to_the_owner_url_with_the_platform_user():
    s = Settings.from_env({"DATABASE_URL": "postgresql://guahao:owner-pw@db:5432/guahao", "DATABASE_APP_ROLE": "gh"})
    assert s.app_url == "postgresql+asyncpg://gh@db:5432/guahao"
    assert s.platform_url == "postgresql+asyncpg://gh_platform@db:5432/guahao"
    own = Settings.from_env({"DATABASE_URL": "postgresql://guahao@db/guahao",
                             "DATABASE_PLATFORM_URL": "postgresql://ops:pw@db2/guahao"})
    assert own.platform_url == "postgresql+asyncpg://ops:pw@db2/guahao"
    demo = Settings.from_env({})
    assert demo.platform_url == demo.app_url == demo.owner_url


async def test_platform_work_has_a_small_pool_of_its_own_on_postgresql_only():
    db = Database(Settings(database_url=PG, secret_key=KEY, db_pool_size=7))
    owner = Database(Settings(database_url=PG, secret_key=KEY), url=Settings(database_url=PG).owner_url)
    demo = Database(Settings(secret_key=KEY))
    try:
        assert db.platform_engine is not None and db.platform_engine.url.username == "guahao_app_platform"
        assert db.platform_engine.pool.size() == PLATFORM_POOL_SIZE < 7
        assert owner.platform_engine is None and demo.platform_engine is None
    finally:
        for d in (db, owner, demo):
            await d.dispose()


def test_the_booking_gate_admits_twice_the_pool():
    settings = Settings(secret_key=KEY, db_pool_size=6)
    gate = make_gate(settings)
    assert type(gate) is MemoryGate and gate.turns == 12
    redis_gate = make_gate(dataclasses.replace(settings, redis_url="redis://127.0.0.1:6379/0"))
    assert type(redis_gate) is RedisGate and redis_gate.turns == 12


def test_no_other_module_reads_the_environment():
    """The settings object is the one reader (the command's ``$PORT`` default aside)."""
    root = Path(__file__).resolve().parents[2]
    allowed = {"tenants/settings.py", "core/cli/__init__.py"}
    readers = sorted(
        str(path.relative_to(root))
        for package in ("core", "tenants", "operator_console", "plugins", "licensing")
        for path in (root / package).rglob("*.py")
        if str(path.relative_to(root)) not in allowed
        and any(needle in path.read_text(encoding="utf-8") for needle in ("os.environ", "os.getenv"))
    )
    assert readers == []
