"""``guahao city import``: a dry run shows the plan, errors exit 1 listing each, a run imports."""

from __future__ import annotations

import asyncio

import pytest

from guahao.core.cli import main
from guahao.core.demo.files import DEMO_DIR

from .conftest import FILES, row_ids


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUAHAO_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("GUAHAO_DATA_KEY", settings.data_key)
    monkeypatch.delenv("DATABASE_APP_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return settings


def test_import_explains_itself(capsys):
    assert main(["city", "import", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: guahao city import") and "--dry-run" in out and "example" in out


async def test_dry_run_then_import_then_errors(env, rt, empty_city, capsys):
    """The command runs its own event loop, so it runs in a thread beside the test's."""
    workbook = str(DEMO_DIR / "demo.xlsx")
    assert await asyncio.to_thread(main, ["city", "import", empty_city.slug, workbook, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: nothing written" in out and "hospitals 医院" in out
    assert all(not rows for rows in (await row_ids(rt, empty_city)).values())

    assert await asyncio.to_thread(main, ["city", "import", empty_city.slug, workbook]) == 0
    assert f"imported into {empty_city.slug}" in capsys.readouterr().out
    assert len((await row_ids(rt, empty_city))["hospitals"]) == 13

    bad = sorted(str(p) for p in (FILES / "bad").glob("*.csv"))
    assert await asyncio.to_thread(main, ["city", "import", empty_city.slug, *bad]) == 1
    out = capsys.readouterr().out
    assert out.count("\nerror: ") == 19 and "nothing imported" in out
    assert "departments.csv:departments:3:科室编码: department_code_lost_zero" in out


def test_an_unknown_city_is_a_clear_error(env, capsys):
    assert main(["city", "import", "no-such-city", str(DEMO_DIR / "demo.xlsx")]) == 1
    assert "no city 'no-such-city'" in capsys.readouterr().err
