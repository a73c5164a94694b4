"""A broken third-party plugin package, installed with pip, is reported and left out: the
platform starts, every other plugin works, and operators see which one is broken and why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent / "broken_package"

PROBE = r"""
import asyncio, json, sys
import httpx
from guahao.core.app import create_app
from guahao.core.plugins.loader import discover
from guahao.tenants.settings import Settings

async def main():
    found = discover()
    app = create_app(Settings(database_url=sys.argv[1], secret_key="b" * 48))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            health = (await client.get("/healthz")).status_code
        names = app.state.rt.plugins.names()
    print(json.dumps({"working": sorted(found.plugins), "names": names, "health": health,
                      "broken": {n: [b.stage, b.reason] for n, b in found.broken.items()}}))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory) -> Path:
    """The broken package installed with pip into a folder of its own (not the shared venv)."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(PACKAGE)], check=True, capture_output=True, timeout=300)
    return target


def _run(site_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site_dir), os.getcwd()])}
    env.pop("REDIS_URL", None)
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)


def test_the_platform_starts_and_leaves_each_broken_plugin_out(site_dir, tmp_path):
    from guahao.core.migrate import upgrade
    from guahao.tenants.settings import Settings

    url = f"sqlite+aiosqlite:///{tmp_path}/broken.sqlite3"
    upgrade(Settings(database_url=url, secret_key="b" * 48))
    done = _run(site_dir, "-c", PROBE, url)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["health"] == 200
    assert {"pay_at_hospital", "demo_his", "web", "stripe"} <= set(seen["working"])
    assert set(seen["names"]) == set(seen["working"])
    broken = seen["broken"]
    assert broken["his_typo"][0] == "hooks" and "guahao_his_adaptors" in broken["his_typo"][1]
    assert broken["bad_import"][0] == "import" and "ModuleNotFoundError" in broken["bad_import"][1]
    assert broken["no_meta"][0] == "declaration" and "META" in broken["no_meta"][1]
    # each is logged clearly, once, naming the plugin and the failed check
    assert "plugin his_typo (guahao_his_adaptors_typo) left out, hooks check failed" in done.stderr


def test_guahao_plugin_list_and_city_plugin_name_the_broken_ones(site_dir, tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3"
    for argv in (["migrate"], ["city", "create", "bk", "坏插件市"]):
        done = _run_env(site_dir, url, argv)
        assert done.returncode == 0, done.stderr
    done = _run_env(site_dir, url, ["city", "plugin", "bk"])
    assert done.returncode == 0, done.stderr
    assert "his_typo" in done.stdout and "broken (hooks)" in done.stdout
    done = _run_env(site_dir, url, ["city", "plugin", "bk", "his_typo"])
    assert done.returncode == 1 and "未能加载" in done.stderr
    done = _run_env(site_dir, url, ["city", "plugin", "bk", "demo_his", "--secret", "token=long-enough-token"])
    assert done.returncode == 0, done.stderr


def _run_env(site_dir: Path, database_url: str, argv: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site_dir), os.getcwd()]), "DATABASE_URL": database_url,
           "GUAHAO_SECRET_KEY": "b" * 48}
    env.pop("REDIS_URL", None)
    code = "import sys; from core.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=300)
