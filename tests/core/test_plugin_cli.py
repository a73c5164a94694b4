"""``guahao plugin list|show|docs``: read the declarations only, never the database."""

from __future__ import annotations

import sys
from types import ModuleType

import pytest

from guahao.core.cli import main
from guahao.core.plugins import loader
from guahao.core.plugins.reference import reference


@pytest.fixture(autouse=True)
def no_database(monkeypatch):
    """A database that cannot be reached and production rules without keys: the plugin
    commands must not care. Opening a runtime fails the test."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    monkeypatch.setenv("GUAHAO_ENV", "production")
    monkeypatch.delenv("GUAHAO_SECRET_KEY", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError("a plugin command opened a runtime")

    monkeypatch.setattr("guahao.core.runtime.Runtime.__init__", refuse)


@pytest.fixture
def with_broken(monkeypatch):
    """Two more plugins on offer: one that does not import, one without a declaration."""
    undeclared = ModuleType("guahao_test_undeclared")
    monkeypatch.setitem(sys.modules, "guahao_test_undeclared", undeclared)
    real = loader.entry_point_targets

    def targets():
        return {**real(), "ghost": ("guahao_test_no_such_module", False),
                "undeclared": ("guahao_test_undeclared", False)}

    monkeypatch.setattr(loader, "entry_point_targets", targets)
    monkeypatch.setattr(loader, "_cached", None)  # restored afterwards: other tests keep the real discovery


@pytest.mark.parametrize("argv", [["plugin"], ["plugin", "list"], ["plugin", "show"], ["plugin", "docs"]])
def test_every_plugin_command_explains_itself(argv, capsys):
    assert main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: guahao plugin")
    assert "example" in out


def test_wrong_usage_exits_2(capsys):
    assert main(["plugin"]) == 2
    assert main(["plugin", "show"]) == 2
    assert main(["plugin", "frobnicate"]) == 2
    assert "usage:" in capsys.readouterr().err


def test_list_names_every_installed_plugin(capsys):
    assert main(["plugin", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "version", "category", "label"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(loader.discover().plugins) <= set(rows)
    assert rows["sms_aliyun"].split() == ["sms_aliyun", "1.0.0", "notification", "阿里云短信"]
    assert rows["pay_at_hospital"].split()[1:] == ["1.0.0", "payment", "到院支付"]


def test_list_shows_broken_plugins_with_stage_and_reason(with_broken, capsys):
    assert main(["plugin", "list"]) == 0
    out = capsys.readouterr().out
    ghost = next(line for line in out.splitlines() if line.startswith("ghost "))
    assert "broken (import check failed)" in ghost and "guahao_test_no_such_module" in ghost
    undeclared = next(line for line in out.splitlines() if line.startswith("undeclared "))
    assert "broken (declaration check failed)" in undeclared and "META" in undeclared
    assert "sms_aliyun" in out  # the others still work


def test_show_prints_metadata_and_settings(capsys):
    assert main(["plugin", "show", "sms_aliyun"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sms_aliyun — 阿里云短信 / Alibaba Cloud SMS\n")
    assert "category:       notification (消息通知 / Notifications)" in out
    assert "version:        1.0.0" in out
    from guahao.plugin_api import API_VERSION

    assert f"compatibility:  plugin API >=1.0,<2 (this platform: {API_VERSION})" in out
    assert "module:         guahao.plugins.channels.sms_aliyun (built-in)" in out
    assert "通过阿里云短信服务" in out
    assert "secret (write-only, stored encrypted; give with --secret): access_key_id, access_key_secret" in out
    assert "required (the plugin cannot work without them): sign_name, access_key_id, access_key_secret" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("endpoint "))
    assert row.split()[:5] == ["endpoint", "str", '"https://dysmsapi.aliyuncs.com"', "no", "no"]
    assert "在阿里云短信控制台审核通过的签名。" in out
    assert "per-hospital" not in out


def test_show_lists_per_hospital_settings(capsys):
    assert main(["plugin", "show", "demo_his"]) == 0
    out = capsys.readouterr().out
    assert "per-hospital settings (hospital_settings):" in out
    city_part, hospital_part = out.split("per-hospital settings (hospital_settings):")
    assert "give with --secret): token" in city_part and "token" not in hospital_part
    assert "fail_pushes" in hospital_part
    assert "required (the plugin cannot work without them): none" in out


def test_show_of_an_unknown_plugin_is_a_one_line_error(capsys):
    assert main(["plugin", "show", "no_such_plugin"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err
    assert err.startswith("error: no plugin 'no_such_plugin' is installed") and "sms_aliyun" in err


def test_show_of_a_broken_plugin_is_a_one_line_error(with_broken, capsys):
    assert main(["plugin", "show", "ghost"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("error: plugin 'ghost' is broken (import check failed): ModuleNotFoundError")


def test_docs_prints_the_reference(capsys):
    assert main(["plugin", "docs"]) == 0
    assert capsys.readouterr().out == reference(loader.discover())
    assert main(["plugin", "docs", "--builtin"]) == 0
    assert capsys.readouterr().out == reference(loader.discover(), builtin_only=True)


def test_docs_writes_the_reference(tmp_path, capsys):
    out = tmp_path / "sub" / "plugin-settings.md"
    assert main(["plugin", "docs", "--builtin", "--out", str(out)]) == 0
    assert f"wrote the plugin settings reference to {out}" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == reference(loader.discover(), builtin_only=True)


def test_docs_to_an_unwritable_place_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["plugin", "docs", "--out", str(blocker / "plugin-settings.md")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write") and "Traceback" not in err
