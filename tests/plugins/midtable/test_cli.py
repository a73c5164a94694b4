"""`guahao his set CITY HOSPITAL midtable --set url=… --secret password=…` points a hospital at
its intermediate database (the password encrypted, never shown); `guahao his sync` pulls from it
and `guahao his status` shows it healthy, or degraded when the database is down."""

from __future__ import annotations

import asyncio
import json
import uuid

from sqlalchemy import select

from guahao.core.cli import main
from guahao.core.models import Hospital
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city
from tests.core.test_cli import _slug, env  # noqa: F401  (the fixture)
from tests.core.test_cli_outbox import _with_runtime
from tests.factories import make_catalogue

from .test_push import closed_port


def _hospital(settings, slug: str):
    async def go(rt):
        cat = await make_catalogue(rt, await get_city(rt.db, slug))
        return cat.hospital.code, cat.doctor.id

    return asyncio.run(_with_runtime(settings, go))


def _state(settings, slug: str):
    async def go(rt):
        city = await get_city(rt.db, slug)
        plugins = await rt.plugins.for_city(city)
        with use_city(city):
            async with rt.db.transaction() as s:
                hospital = await s.scalar(select(Hospital))
        return {"adapter": hospital.his_adapter, "settings": plugins.settings("midtable", hospital.id),
                "secrets": plugins.secrets("midtable", hospital.id)}

    return asyncio.run(_with_runtime(settings, go))


def _account(sim) -> tuple[str, str]:
    """A login of the platform's own with the rights docs/his-midtable.sql grants it."""
    user, password = f"gh{uuid.uuid4().hex[:10]}", uuid.uuid4().hex

    async def go():
        db = f"`{sim.database}`"
        await sim.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        for table in ("mt_schedule", "mt_visit", "mt_fee_item", "mt_schedule_seq", "mt_visit_seq", "mt_fee_item_seq"):
            await sim.execute(f"GRANT SELECT ON {db}.{table} TO '{user}'@'%'")
        await sim.execute(f"GRANT SELECT, INSERT ON {db}.mt_request TO '{user}'@'%'")

    asyncio.run(go())
    return user, password


def _drop(user: str, sim) -> None:
    asyncio.run(sim.execute(f"DROP USER IF EXISTS '{user}'@'%'"))


def test_his_set_then_sync_and_status(env, sim, capsys):  # noqa: F811
    slug = _slug()
    assert main(["city", "create", slug, "中间表市"]) == 0
    code, doctor_id = _hospital(env, slug)
    user, password = _account(sim)
    try:
        url = f"mysql+aiomysql://{user}@{sim.host}:{sim.port}/{sim.database}"
        capsys.readouterr()
        assert main(["his", "set", slug, code, "midtable", "--set", f"url=mysql+aiomysql://{user}:{password}@h/db"]) == 1
        assert "url" in capsys.readouterr().err  # a password in the URL is refused: it is a secret
        assert main(["his", "set", slug, code, "midtable", "--set", f"url={url}", "--secret", f"password={password}",
                     "--set", "ack_wait=0"]) == 0
        out = capsys.readouterr().out
        assert f"midtable enabled for {slug}" in out and "uses the HIS adapter midtable" in out
        assert password not in out and "secrets stored: password" in out
        state = _state(env, slug)
        assert state["adapter"] == "midtable" and state["settings"]["url"] == url
        assert state["secrets"]["password"] == password and state["settings"]["table_prefix"] == "mt_"

        from datetime import date, timedelta

        day = date.today() + timedelta(days=5)
        asyncio.run(sim.publish(code, "C-1", doctor_code=f"D{doctor_id}", day=day, half_day="pm",
                                periods=[("13:00", "14:00", 4)]))
        assert main(["his", "sync", slug, code, "--from", day.isoformat(), "--to", day.isoformat()]) == 0
        assert "1 items, 1 created" in capsys.readouterr().out

        assert main(["his", "status", slug, "--json"]) == 0
        [row] = json.loads(capsys.readouterr().out)["hospitals"]
        assert (row["adapter"], row["degraded"], row["health"]["ok"]) == ("midtable", False, True)
        assert "fees" in row["operations"] and row["last_sync"]["outcome"] == "ok"

        port = closed_port()
        assert main(["his", "set", slug, code, "midtable", "--set",
                     f"url=mysql+aiomysql://{user}@127.0.0.1:{port}/{sim.database}"]) == 0
        capsys.readouterr()
        assert main(["his", "status", slug]) == 0
        text = capsys.readouterr().out
        assert "1 of 1 hospitals degraded" in text and "DOWN" in text and "cannot be reached" in text
        assert password not in text
    finally:
        _drop(user, sim)
