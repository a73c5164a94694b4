"""Every environment knob is read once, into the settings object; the code reads that."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import pytest

from guahao.core.booking.gate import MemoryGate, RedisGate, make_gate
from guahao.core.cli import main
from guahao.tenants.db import Database
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
