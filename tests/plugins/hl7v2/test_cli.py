"""``guahao his set`` stores a hospital's own HIS settings (checked, secrets encrypted, audited)
and names its adapter; ``guahao his simulate`` is offered beside it."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from guahao.core.cli import build_parser, main
from guahao.core.models import AuditEntry, Hospital, HospitalPlugin
from guahao.tenants.context import use_city
from guahao.tenants.service import enabled_plugins, get_city
from tests.core.test_cli import _slug, env  # noqa: F401  (the fixture)
from tests.core.test_cli_outbox import _with_runtime
from tests.factories import make_catalogue


def _hospital(settings, slug: str) -> str:
    async def go(rt):
        cat = await make_catalogue(rt, await get_city(rt.db, slug))
        return cat.hospital.code

    return asyncio.run(_with_runtime(settings, go))


def _state(settings, slug: str):
    async def go(rt):
        city = await get_city(rt.db, slug)
        plugins = await rt.plugins.for_city(city)
        with use_city(city):
            async with rt.db.transaction() as s:
                hospital = await s.scalar(select(Hospital))
                row = await s.scalar(select(HospitalPlugin).where(HospitalPlugin.plugin == "hl7v2"))
                audit = [a.action for a in (await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()]
        return {
            "adapter": hospital.his_adapter, "row": row, "audit": audit, "enabled": set(await enabled_plugins(rt.db, city)),
            "settings": plugins.settings("hl7v2", hospital.id), "secrets": plugins.secrets("hl7v2", hospital.id),
        }

    return asyncio.run(_with_runtime(settings, go))


def test_his_set_stores_the_hospitals_settings_and_adapter(env, capsys):  # noqa: F811
    slug = _slug()
    assert main(["city", "create", slug, "接口市"]) == 0
    code = _hospital(env, slug)
    capsys.readouterr()
    assert main(["his", "set", slug, code, "hl7v2", "--set", "host=127.0.0.1", "--set", "port=2600",
                 "--set", "patient_identity=full_id", "--secret", "listen_host=10.0.0.1"]) == 1  # not a secret
    assert "listen_host" in capsys.readouterr().err
    assert main(["his", "set", slug, code, "hl7v2", "--set", "host=127.0.0.1", "--set", "port=2600",
                 "--set", "patient_identity=full_id"]) == 0
    out = capsys.readouterr().out
    assert f"hl7v2 enabled for {slug}" in out and f"{code}" in out and "uses the HIS adapter hl7v2" in out
    state = _state(env, slug)
    assert state["adapter"] == "hl7v2" and "hl7v2" in state["enabled"]
    assert state["settings"]["host"] == "127.0.0.1" and state["settings"]["port"] == 2600
    assert state["settings"]["patient_identity"] == "full_id" and state["settings"]["timeout"] == 10.0  # city default
    assert "hospital.plugin" in state["audit"] and "hospital.his_adapter" in state["audit"]

    # a second call keeps what it does not change; --unset gives the city's value back
    assert main(["his", "set", slug, code, "hl7v2", "--set", "timeout=3", "--unset", "patient_identity"]) == 0
    state = _state(env, slug)
    assert state["settings"]["host"] == "127.0.0.1" and state["settings"]["timeout"] == 3
    assert state["settings"]["patient_identity"] == "masked_id"


def test_his_set_refuses_unknown_or_wrong_settings_and_changes_nothing(env, capsys):  # noqa: F811
    slug = _slug()
    assert main(["city", "create", slug, "接口市"]) == 0
    code = _hospital(env, slug)
    capsys.readouterr()
    assert main(["his", "set", slug, code, "hl7v2", "--set", "hostname=x"]) == 1
    err = capsys.readouterr().err
    assert "hostname" in err
    assert main(["his", "set", slug, code, "hl7v2", "--set", "port=70000"]) == 1
    assert "port" in capsys.readouterr().err
    state = _state(env, slug)
    assert state["row"] is None and state["adapter"] == ""
    assert main(["his", "set", slug, code, "no_such_his"]) == 1
    assert "not an installed HIS adapter" in capsys.readouterr().err
    assert main(["his", "set", slug, "NOPE", "hl7v2", "--set", "host=a"]) == 1
    assert "no hospital 'NOPE'" in capsys.readouterr().err


def test_simulate_is_offered():
    args = build_parser().parse_args(["his", "simulate", "--port", "2601", "--reject-next", "2"])
    assert (args.port, args.reject_next, args.error_next, args.host) == (2601, 2, 0, "127.0.0.1")


async def test_the_simulator_command_prints_and_answers_each_message(capsys):
    from guahao.plugins.his.hl7v2 import messages as m
    from guahao.plugins.his.hl7v2.mllp import exchange
    from guahao.plugins.his.hl7v2.simulator import serve

    from .test_docs import samples
    from .test_listener import free_port

    port = free_port()
    task = asyncio.create_task(serve("127.0.0.1", port, reject_next=1))
    try:
        for _ in range(50):
            try:
                first, _ = await exchange("127.0.0.1", port, samples()["S12"], timeout=2)
                break
            except Exception:
                await asyncio.sleep(0.05)
        second, _ = await exchange("127.0.0.1", port, samples()["S12"], timeout=2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert m.read_ack(first).code == "AR" and m.read_ack(second).code == "AA"
    out = capsys.readouterr().out
    assert f"listening on 127.0.0.1:{port}" in out
    assert "← SIU^S12" in out and "→ AR 患者信息不符" in out and "→ AA 预约已登记" in out
