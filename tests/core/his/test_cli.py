"""``guahao his status|sync|reconcile`` from the shell."""

from __future__ import annotations

import argparse
import asyncio
import json

from guahao.core.cli.common import CliError
from guahao.core.cli.his import add_his_commands, his_commands
from guahao.tenants.service import configure_plugin, get_city
from tests.core.test_cli import _slug, env  # noqa: F401  (the fixture)
from tests.factories import make_catalogue, make_city

from .helpers import demo_settings, next_weekday


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="guahao")
    subs = parser.add_subparsers(dest="command", required=True)
    add_his_commands(subs, "")
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except CliError as exc:
        print(f"error: {exc}")
        return 1


def _setup(settings, slug: str, **demo) -> tuple[str, int]:
    async def go():
        from guahao.core.runtime import Runtime

        rt = Runtime(settings)
        try:
            city = await make_city(rt, slug)
            cat = await make_catalogue(rt, city)
            await configure_plugin(rt.db, city, "demo_his")
            await demo_settings(rt, await get_city(rt.db, slug), cat.hospital.id, **demo)
            return cat.hospital.code, cat.doctor.id
        finally:
            await rt.stop()

    return asyncio.run(go())


def test_the_his_group_is_shared_by_the_modules_that_add_to_it():
    parser = argparse.ArgumentParser(prog="guahao")
    subs = parser.add_subparsers(dest="command")
    first = his_commands(subs)
    first.add_parser("set", help="set a hospital's adapter")
    add_his_commands(subs, "")
    assert his_commands(subs) is first
    assert {"set", "status", "sync", "reconcile"} <= set(first.choices)


def test_status_sync_and_reconcile_from_the_shell(env, capsys):  # noqa: F811
    slug = _slug()
    code, doctor_id = _setup(env, slug, schedule_doctors="*")
    capsys.readouterr()

    assert cli(["his", "status", slug, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)["hospitals"]
    assert (row["code"], row["adapter"], row["degraded"], row["last_sync"]) == (code, "demo_his", False, None)

    async def today_of():
        from guahao.core.runtime import Runtime

        rt = Runtime(env)
        try:
            return await get_city(rt.db, slug)
        finally:
            await rt.stop()

    city = asyncio.run(today_of())
    day = next_weekday(city)
    assert cli(["his", "sync", slug, code, "--from", day.isoformat(), "--to", day.isoformat()]) == 0
    out = capsys.readouterr().out
    assert f"{code}" in out and "2 items, 2 created, 0 changed, 0 suspended" in out
    assert cli(["his", "sync", slug, "--from", day.isoformat(), "--to", day.isoformat()]) == 0
    assert "2 items, 0 created, 0 changed" in capsys.readouterr().out

    assert cli(["his", "status", slug]) == 0
    assert "ok" in capsys.readouterr().out.splitlines()[1]

    assert cli(["his", "reconcile", slug, code, "--date", day.isoformat(), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compared"] == ["sessions", "bookings"]
    assert {d["code"] for d in report["differences"]} <= {"missing_at_his"}  # the catalogue's morning sessions
    assert cli(["his", "reconcile", slug, code, "--date", day.isoformat(), "--csv"]) == 0
    assert capsys.readouterr().out.startswith("kind,code,message")

    assert cli(["his", "reconcile", slug, "NOPE", "--date", day.isoformat()]) == 1
    assert "no hospital 'NOPE'" in capsys.readouterr().out
    assert cli(["his", "sync", slug, code, "--from", "tomorrow"]) == 1


def test_the_guahao_command_has_the_his_commands(capsys):
    from guahao.core.cli import main

    for argv in (["his"], ["his", "status"], ["his", "sync"], ["his", "reconcile"]):
        assert main([*argv, "--help"]) == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: guahao his") and "example" in out
    assert main(["his", "reconcile", "demo", "H1"]) == 2  # --date is required
