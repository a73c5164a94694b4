"""The ``guahao`` command: help for newcomers, clear errors (exit 1), usage errors (exit 2)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid

import pytest

from guahao.core.cli import main
from guahao.tenants.service import enabled_plugins, get_city
from tests.conftest import make_settings


@pytest.fixture
def env(settings, monkeypatch):
    """Point the command at the test database with the test keys (as the environment would)."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUAHAO_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("GUAHAO_DATA_KEY", settings.data_key)
    monkeypatch.delenv("DATABASE_APP_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return settings


def _slug() -> str:
    return f"cli{uuid.uuid4().hex[:8]}"



@pytest.mark.parametrize(
    "argv",
    [[], ["serve"], ["worker"], ["migrate"], ["demo"], ["seed-demo"], ["city"], ["city", "create"],
     ["city", "list"], ["city", "rules"], ["city", "plugin"], ["usage"], ["usage", "verify"], ["usage", "export"],
     ["usage", "backfill"], ["outbox"], ["outbox", "list"], ["outbox", "retry"], ["outbox", "abandon"]],
)
def test_every_command_explains_itself(argv, capsys):
    assert main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: guahao")
    assert "example" in out


def test_wrong_usage_exits_2(capsys):
    assert main([]) == 2
    assert main(["bogus"]) == 2
    assert main(["city", "create", "only-slug"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_entry_point_runs_as_a_program():
    done = subprocess.run([sys.executable, "-m", "guahao.core.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "guahao city create" in done.stdout


def test_city_create_then_again_is_a_clear_error(env, capsys):
    slug = _slug()
    argv = ["city", "create", slug, "测试市", "--district", "01:东城区", "--host", f"{slug}.example.cn"]
    assert main(argv) == 0
    assert f"created city {slug}" in capsys.readouterr().out
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "exists already" in err and "Traceback" not in err
    assert main(["city", "list"]) == 0
    listing = capsys.readouterr().out
    assert slug in listing and f"{slug}.example.cn" in listing


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--timezone", "Mars/Olympus"], "unknown time zone"),
        (["--district", "no-colon"], "CODE:NAME"),
        (["--host", "bad host!"], "invalid host"),
    ],
)
def test_city_create_rejects_bad_input(env, capsys, extra, message):
    assert main(["city", "create", _slug(), "测试市", *extra]) == 1
    assert message in capsys.readouterr().err


def test_city_create_rejects_a_slug_that_is_not_url_safe(env, capsys):
    assert main(["city", "create", "Hang Zhou", "杭州市"]) == 1
    assert main(["city", "create", "docs", "文档"]) == 1
    assert capsys.readouterr().err.count("invalid slug") == 2


def test_city_rules_validates_and_saves(env, rt, capsys):
    slug = _slug()
    assert main(["city", "create", slug, "规则市"]) == 0
    assert main(["city", "rules", slug, "max_active_bookings=0"]) == 1
    assert "max_active_bookings" in capsys.readouterr().err
    assert main(["city", "rules", slug, "no_such_rule=1"]) == 1
    assert "unknown rule" in capsys.readouterr().err
    assert main(["city", "rules", slug, "release_time=25:00"]) == 1
    assert main(["city", "rules", slug, "max_active_bookings"]) == 1
    assert main(["city", "rules", slug, "max_active_bookings=3", "release_time=08:00", "credit_ladder_days=10,20"]) == 0
    assert 'max_active_bookings = 3' in capsys.readouterr().out
    assert main(["city", "rules", "no-such-city"]) == 1
    rules = asyncio.run(_rules(env, slug))
    assert rules.max_active_bookings == 3
    assert rules.release_time.strftime("%H:%M") == "08:00"
    assert rules.credit_ladder_days == [10, 20]


async def _rules(settings, slug):
    from guahao.core.runtime import Runtime

    runtime = Runtime(settings)
    try:
        return (await get_city(runtime.db, slug)).rules
    finally:
        await runtime.stop()


async def _plugins(settings, slug):
    from guahao.core.runtime import Runtime

    runtime = Runtime(settings)
    try:
        return await enabled_plugins(runtime.db, await get_city(runtime.db, slug))
    finally:
        await runtime.stop()


def test_city_plugin_enables_configures_and_disables(env, capsys):
    slug = _slug()
    assert main(["city", "create", slug, "插件市"]) == 0
    assert main(["city", "plugin", slug, "no_such_plugin"]) == 1
    assert "没有安装插件 no_such_plugin" in capsys.readouterr().err
    assert main(["city", "plugin", slug, "demo_his", "--set", "fail_pushes=false",
                 "--secret", "token=s3cret-token"]) == 0
    plugins = asyncio.run(_plugins(env, slug))
    assert plugins["demo_his"] == {"settings": {"fail_pushes": False}, "secrets": {"token": "s3cret-token"}}
    assert main(["city", "plugin", slug]) == 0
    assert "demo_his" in capsys.readouterr().out
    assert main(["city", "plugin", slug, "demo_his", "--disable"]) == 0
    assert "demo_his" not in asyncio.run(_plugins(env, slug))
    assert main(["city", "plugin", slug, "demo_his"]) == 0  # settings were kept
    assert asyncio.run(_plugins(env, slug))["demo_his"]["settings"]["fail_pushes"] is False


def test_licensing_is_always_on_and_cannot_be_disabled(env, capsys):
    slug = _slug()
    assert main(["city", "create", slug, "授权市"]) == 0
    capsys.readouterr()
    assert main(["city", "plugin", slug]) == 0
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("licensing")][0].endswith("always on")
    assert main(["city", "plugin", slug, "licensing", "--disable"]) == 1
    assert "cannot be turned off" in capsys.readouterr().err


def test_city_plugin_refuses_bad_settings_in_chinese_and_changes_nothing(env, capsys):
    slug = _slug()
    assert main(["city", "create", slug, "校验市"]) == 0
    assert main(["city", "plugin", slug, "sms_aliyun", "--set", "sign_name=示例市", "--set", "timeout=soon",
                 "--set", "tmeout=3", "--secret", "access_key_id=LTAI-key-id-1"]) == 1
    err = capsys.readouterr().err
    assert "插件 sms_aliyun 的设置有误，未保存" in err
    assert "timeout：请输入数字" in err and "tmeout：没有这项设置" in err and "access_key_secret：必填" in err
    assert "timeout: Enter a number" in err  # and the same in English
    assert "LTAI-key-id-1" not in err
    assert "sms_aliyun" not in asyncio.run(_plugins(env, slug))
    # a credential given as a setting is refused too: settings are stored in clear
    assert main(["city", "plugin", slug, "sms_aliyun", "--set", "sign_name=示例市",
                 "--set", "access_key_secret=oops-in-clear", "--secret", "access_key_id=LTAI-key-id-1"]) == 1
    assert "access_key_secret：这是凭据" in capsys.readouterr().err
    assert main(["city", "plugin", slug, "sms_aliyun", "--set", "sign_name=示例市", "--set", "timeout=5",
                 "--secret", "access_key_id=LTAI-key-id-1", "--secret", "access_key_secret=secret-value-1"]) == 0
    assert asyncio.run(_plugins(env, slug))["sms_aliyun"]["settings"] == {"sign_name": "示例市", "timeout": 5.0}
    assert main(["city", "plugin", slug, "sms_aliyun", "--unset", "timeout"]) == 0
    assert asyncio.run(_plugins(env, slug))["sms_aliyun"]["settings"] == {"sign_name": "示例市"}


def test_worker_without_redis_says_what_is_missing(env, capsys):
    assert main(["worker"]) == 1
    assert "REDIS_URL" in capsys.readouterr().err


def test_migrate_is_safe_to_run_again(env, capsys):
    assert main(["migrate"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_commands_on_a_database_without_tables_say_what_to_do(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3")
    monkeypatch.setenv("GUAHAO_SECRET_KEY", make_settings("sqlite", tmp_path).secret_key)
    assert main(["city", "list"]) == 1
    assert "guahao migrate" in capsys.readouterr().err


def test_demo_without_serving_migrates_seeds_and_prints_logins(tmp_path, monkeypatch, capsys):
    from guahao.core.demo import demo_logins

    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/demo.sqlite3")
    # The same keys as the test run: the data cipher is process-wide.
    monkeypatch.setenv("GUAHAO_SECRET_KEY", make_settings("sqlite", tmp_path).secret_key)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert main(["demo", "--no-serve", "--port", "8123", "--days", "2"]) == 0
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/" in out and "示例市 (demo) seeded" in out
    assert "http://127.0.0.1:8123/c/demo/kiosk/?terminal=demo-k1" in out  # the kiosk needs its terminal
    for login in demo_logins():
        assert login["phone"] in out and login["password"] in out
    assert main(["seed-demo", "--days", "2"]) == 0
    assert "示例市 (demo) ready" in capsys.readouterr().out
    assert main(["seed-demo", "--reset", "--days", "1"]) == 0
    out = capsys.readouterr().out
    assert "removed the old demo city" in out and "seeded" in out
