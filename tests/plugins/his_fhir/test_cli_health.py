"""``guahao his set CITY HOSPITAL fhir --set base_url=…`` points a hospital at its FHIR server
(checked, secrets kept apart) and ``guahao his sync`` then pulls from it; the health check reads
``metadata`` and says clearly when the server is down or not set."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from guahao.core.cli import main
from guahao.core.his.sync import check_health
from guahao.core.models import ClinicSession, Hospital
from guahao.plugins.his.fhir import FhirHis
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city
from tests.core.test_cli import _slug, env  # noqa: F401  (the fixture)
from tests.core.test_cli_outbox import _with_runtime
from tests.factories import make_catalogue

from .conftest import at_local, seed_catalogue, slot


def _catalogue(settings, slug: str, server):
    async def go(rt):
        city = await get_city(rt.db, slug)
        cat = await make_catalogue(rt, city)
        schedules = seed_catalogue(server, cat, city)
        return city, cat.hospital.code, cat.doctor.id, schedules[cat.doctor.id]

    return asyncio.run(_with_runtime(settings, go))


def _state(settings, slug: str):
    async def go(rt):
        city = await get_city(rt.db, slug)
        plugins = await rt.plugins.for_city(city)
        with use_city(city):
            async with rt.db.transaction() as s:
                hospital = await s.scalar(select(Hospital))
                sessions = (await s.scalars(select(ClinicSession).where(ClinicSession.half_day == "pm"))).all()
        return {"adapter": hospital.his_adapter, "settings": plugins.settings("fhir", hospital.id),
                "secrets": plugins.secrets("fhir", hospital.id), "pm": [(cs.doctor_id, cs.date) for cs in sessions]}

    return asyncio.run(_with_runtime(settings, go))


def test_his_set_points_the_hospital_at_its_fhir_server_and_his_sync_pulls_from_it(env, capsys, server, live):  # noqa: F811
    slug = _slug()
    assert main(["city", "create", slug, "接口市"]) == 0
    city, code, doctor_id, schedule = _catalogue(env, slug, server)
    capsys.readouterr()
    assert main(["his", "set", slug, code, "fhir", "--set", "base_url=ftp://his.example/fhir"]) == 1
    assert "base_url" in capsys.readouterr().err
    assert main(["his", "set", slug, code, "fhir", "--secret", "base_url=http://x"]) == 1  # not a secret
    capsys.readouterr()

    assert main(["his", "set", slug, code, "fhir", "--set", f"base_url={live.url}", "--set", "page_size=50"]) == 0
    out = capsys.readouterr().out
    assert f"fhir enabled for {slug}" in out and "uses the HIS adapter fhir" in out
    state = _state(env, slug)
    assert state["adapter"] == "fhir" and state["settings"]["base_url"] == live.url
    assert state["settings"]["auth"] == "none" and state["settings"]["page_size"] == 50

    day = utcnow().astimezone(city.tz).date() + timedelta(days=1)
    server.add(slot(schedule, city, at_local(city, day, 14), at_local(city, day, 15), capacity=5))
    assert main(["his", "sync", slug, code, "--from", day.isoformat(), "--to", day.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "1 of 1 pulls done" in out and "1 created" in out
    assert _state(env, slug)["pm"] == [(doctor_id, day)]

    assert main(["his", "set", slug, code, "fhir", "--set", "auth=smart", "--set", "client_id=guahao-h1",
                 "--secret", "private_key=-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----"]) == 0
    out = capsys.readouterr().out
    assert "secrets stored: private_key" in out and "MIIB" not in out
    state = _state(env, slug)
    assert state["settings"]["auth"] == "smart" and state["secrets"]["private_key"].endswith("END PRIVATE KEY-----")


async def test_health_reads_metadata(fhir):
    with use_city(fhir.city):
        health = await check_health(fhir.rt, fhir.cat.hospital.id)
    assert health.ok and health.detail == "Fake hospital FHIR server, FHIR 4.0.1, no auth"
    assert health.latency_ms is not None


async def test_health_when_the_server_is_down_or_not_set(fhir, live):
    live.stop()
    with use_city(fhir.city):
        health = await check_health(fhir.rt, fhir.cat.hospital.id)
    assert not health.ok and health.detail.startswith(fhir.url) and "GET metadata: connection failed" in health.detail

    unset = await FhirHis().health(fhir.city, {}, {})
    assert not unset.ok and "guahao his set CITY HOSPITAL fhir --set base_url=" in unset.detail
