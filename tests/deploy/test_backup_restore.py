"""One city backed up into a file and restored into a fresh database (PostgreSQL and SQLite):
every table's row count and checksum match the source's, ids and secrets still work (a
restored member's token lists their bookings, a new member books), the other city of the
source is not in the file, and a damaged file or an existing city is refused with nothing
written."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from guahao.core.backup import BackupError, backup_city, city_row, discover, restore_city
from guahao.core.backup.rows import city_sums, set_city
from guahao.core.cli import main
from guahao.core.jobs import drain_in_process
from guahao.core.migrate import upgrade_async
from guahao.core.payments.checkout import payment_received
from guahao.core.runtime import Runtime
from guahao.licensing.contracts.service import set_contract
from guahao.licensing.invoices.run import run_invoices
from guahao.licensing.invoices.states import finalize_invoice
from guahao.licensing.ledger.append import Usage, append
from guahao.plugin_api import city_session
from guahao.tenants.context import use_city
from guahao.tenants.db import make_engine
from guahao.tenants.models import tenant_tables
from guahao.tenants.settings import Settings
from tests.api.conftest import cheap_password_hashing, signup, url  # noqa: F401  (autouse: cheap hashes)
from tests.conftest import PG_URL, _pg_admin
from tests.core.plugins.probes import enable
from tests.factories import make_catalogue, make_city
from tests.licensing.test_metering import FakeOnlinePay, FakePayPlugin


@pytest.fixture
async def target_url(backend, tmp_path):
    """A fresh, empty database to restore into. On PostgreSQL it is created here, owned by a
    login that is not superuser (as in production, so row-level security applies to the
    restore too), and dropped with that login afterwards."""
    if backend == "postgres":
        name = f"guahao_restore_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        owner = f"{name}_owner"
        admin = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        await _pg_admin(admin, f'CREATE ROLE "{owner}" LOGIN NOSUPERUSER NOCREATEROLE NOBYPASSRLS',
                        f'CREATE DATABASE "{{db}}" OWNER "{owner}"')
        yield make_url(admin).set(username=owner, password=None).render_as_string(hide_password=False)
        await _pg_admin(admin, 'DROP DATABASE IF EXISTS "{db}"',
                        f'REVOKE SET ON PARAMETER session_replication_role FROM "{owner}"',
                        f'DROP ROLE IF EXISTS "{owner}"')
    else:
        yield f"sqlite+aiosqlite:///{tmp_path}/restored.sqlite3"


def target_settings(rt, target: str) -> Settings:
    return Settings(database_url=target, secret_key=rt.settings.secret_key, data_key=rt.settings.data_key,
                    availability_cache_seconds=0)


async def sums_of(url_: str, slug: str) -> dict[str, tuple[int, str]]:
    """Table → (rows, sha256) of the city in the database ``url_``, read independently."""
    engine = make_engine(Settings(database_url=url_).owner_url, pool_size=1)
    try:
        async with engine.connect() as conn, conn.begin():
            schema = await discover(conn)
            city = await city_row(conn, slug)
            await set_city(conn, city["id"])  # row-level security applies to a non-superuser owner
            return {s.name: (s.rows, s.sha256) for s in await city_sums(conn, schema, schema.specs, city["id"])}
    finally:
        await engine.dispose()


async def _book(client, city, member, period_id: int) -> str:
    r = await client.post(url(city, "/bookings"), json={"period_id": period_id, "channel": "web"},
                          headers=member.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def seed_city(rt, city, client, register_plugin):
    """Members, bookings paid online (one cancelled and refunded), messages, the usage ledger
    and an issued invoice with its lines (rows the database guards with triggers)."""
    from guahao.core.audit import Actor

    register_plugin(FakePayPlugin(), "fake_online_pay")
    city = await enable(rt, city, "fake_online_pay")
    cat = await make_catalogue(rt, city, payment_mode="online", capacity=3)
    members = [await signup(client, rt, city) for _ in range(3)]
    refs = [await _book(client, city, m, cat.periods[cs.id][0].id)
            for m, cs in zip(members, cat.sessions[1:4], strict=False)]
    for ref in refs:
        with use_city(city):
            async with rt.db.transaction() as s:
                assert await payment_received(s, ref, provider=FakeOnlinePay.name, payment_ref=f"pi-{ref}",
                                              amount_fen=cat.reg_type.fee_fen) == "confirmed"
    r = await client.post(url(city, f"/bookings/{refs[-1]}/cancel"), headers=members[-1].headers)
    assert r.status_code == 200, r.text
    await drain_in_process(rt, city_id=city.id)  # messages, the refund, the usage ledger

    vendor = Actor("vendor", 1, name="厂商")
    nov5 = datetime(2026, 11, 5, 2, 0, tzinfo=UTC)
    async with city_session(rt, city) as s:
        await set_contract(s, vendor, model="revenue_share", effective_from=date(2026, 1, 1),
                           terms={"percent": "10", "per_booking_fen": 100}, buyer={"name": "运营公司", "tax_id": "91X"})
        await append(s, [Usage("booking.confirmed", 1, f"booking.confirmed:B{i}", nov5 + timedelta(hours=i),
                               {"channel": "web"}) for i in range(3)])
    [outcome] = await run_invoices(rt, "2026-11", city=city.slug, actor=vendor)
    async with city_session(rt, city) as s:
        await finalize_invoice(s, outcome.invoice_id, vendor)
    return city, cat, members, refs


NON_EMPTY = ("cities", "members", "bookings", "booking_events", "slot_pools", "notifications", "outbox",
             "usage_events", "usage_chain_heads", "licensing_invoices", "licensing_invoice_lines", "city_plugins",
             "licensing_contracts", "audit_entries", "districts")


async def test_a_city_restored_into_a_fresh_database_matches_table_by_table_and_still_books(
        rt, backend, city, client, register_plugin, target_url, tmp_path):
    city, cat, members, refs = await seed_city(rt, city, client, register_plugin)
    other = await make_city(rt, f"o{uuid.uuid4().hex[:8]}")  # a second city of the source, not to be copied
    other_cat = await make_catalogue(rt, other)
    await _book(client, other, await signup(client, rt, other), other_cat.periods[other_cat.sessions[1].id][0].id)

    path = tmp_path / "city.zip"
    report = await backup_city(rt.settings.owner_url, city.slug, path)
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    tables = {t["name"]: t for t in manifest["tables"]}
    assert manifest["city"] == {"id": city.id, "slug": city.slug, "name": city.name}
    assert set(tenant_tables()) <= set(tables)  # every tenant table of the code, core's and the plugins'
    for name in NON_EMPTY:
        assert tables[name]["rows"] > 0, name
    assert tables["bookings"]["rows"] == 3 and tables["members"]["rows"] == 3

    # Only this city: every row of the file names it, and the counts are the city's, not the tables'.
    with zipfile.ZipFile(path) as z:
        for t in manifest["tables"]:
            key = t["columns"].index(t["key"])
            lines = z.read(f"tables/{t['name']}.jsonl").decode().splitlines()
            assert len(lines) == t["rows"]
            assert {json.loads(line)[key] for line in lines} <= {city.id}, t["name"]
    source = await sums_of(rt.settings.database_url, city.slug)
    assert source == {n: (t["rows"], t["sha256"]) for n, t in tables.items()}
    assert report.rows == sum(t["rows"] for t in manifest["tables"])

    settings = target_settings(rt, target_url)
    await upgrade_async(settings)
    if backend == "postgres":  # the owner may switch triggers off without locking tables (the other test: may not)
        admin = make_url(PG_URL)
        await _pg_admin(make_url(target_url).set(username=admin.username, password=admin.password).render_as_string(
            hide_password=False), f'GRANT SET ON PARAMETER session_replication_role TO "{make_url(target_url).username}"')
    restored = await restore_city(path, settings.owner_url)
    assert restored.rows == report.rows and not restored.replaced
    assert await sums_of(target_url, city.slug) == source  # every table: count and checksum
    engine = make_engine(settings.owner_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT slug FROM cities"))).scalars().all() == [city.slug]
    finally:
        await engine.dispose()

    # The restored city works: ids and encrypted data kept, sequences past the restored ids.
    target_rt = Runtime(settings)
    await target_rt.start()
    try:
        from guahao.core.app import create_app

        transport = httpx.ASGITransport(app=create_app(settings, runtime=target_rt))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.get(url(city, "/bookings"), headers=members[0].headers)
            assert r.status_code == 200, r.text
            assert refs[0] in r.text
            newcomer = await signup(c, target_rt, city)
            assert newcomer.id > max(m.id for m in members)
            ref = await _book(c, city, newcomer, cat.periods[cat.sessions[1].id][0].id)
            assert ref not in refs
    finally:
        await target_rt.stop()


async def test_a_city_that_exists_is_replaced_only_when_asked_and_a_damaged_file_writes_nothing(
        rt, city, client, target_url, tmp_path):
    cat = await make_catalogue(rt, city)
    member = await signup(client, rt, city)
    await _book(client, city, member, cat.periods[cat.sessions[1].id][0].id)
    path = tmp_path / "city.zip"
    src = make_url(rt.settings.database_url).render_as_string(hide_password=False)

    # The command: back up, restore (migrating the empty database first), refuse a second time.
    assert await asyncio.to_thread(main, ["city", "backup", city.slug, "--out", str(path), "--database-url", src]) == 0
    assert await asyncio.to_thread(main, ["city", "backup", city.slug, "--out", str(path), "--database-url", src]) == 1
    assert await asyncio.to_thread(main, ["city", "restore", str(path), "--database-url", target_url]) == 0
    assert await asyncio.to_thread(main, ["city", "restore", str(path), "--database-url", target_url]) == 1
    assert await asyncio.to_thread(
        main, ["city", "restore", str(path), "--database-url", target_url, "--replace", "--no-migrate"]) == 0
    assert await sums_of(target_url, city.slug) == await sums_of(rt.settings.database_url, city.slug)

    # A manifest that does not match the rows: the first table that differs is named, and the
    # city already there is untouched (the whole restore is one transaction).
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(damaged, "w") as out:
        for item in z.infolist():
            data = z.read(item)
            if item.filename == "manifest.json":
                m = json.loads(data)
                next(t for t in m["tables"] if t["name"] == "bookings")["rows"] += 1
                data = json.dumps(m).encode()
            out.writestr(item, data)
    settings = target_settings(rt, target_url)
    before = await sums_of(target_url, city.slug)
    with pytest.raises(BackupError, match="bookings: 1 rows, expected 2"):
        await restore_city(damaged, settings.owner_url, replace=True)
    assert await sums_of(target_url, city.slug) == before

    # One value changed in the rows (a member's name), the manifest as it was: the checksum tells.
    edited = tmp_path / "edited.zip"
    with zipfile.ZipFile(path) as z, zipfile.ZipFile(edited, "w") as out:
        for item in z.infolist():
            data = z.read(item)
            if item.filename == "tables/members.jsonl":
                assert "张伟".encode() in data
                data = data.replace("张伟".encode(), "张玮".encode(), 1)
            out.writestr(item, data)
    with pytest.raises(BackupError, match="members: checksum"):
        await restore_city(edited, settings.owner_url, replace=True)
    assert await sums_of(target_url, city.slug) == before


@pytest.mark.parametrize("argv", [["city", "backup"], ["city", "restore"]])
def test_the_commands_explain_themselves(argv, capsys):
    assert main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: guahao {' '.join(argv)}") and "examples:" in out and "checksum" in out
    assert main(argv) == 2  # a city or file is required


async def test_a_city_is_copied_between_two_databases_and_verified_without_a_file(rt, city, client, target_url):
    """The copy-and-verify a move between database cells uses (``copy_city``)."""
    from guahao.core.backup import copy_city_between

    cat = await make_catalogue(rt, city)
    await _book(client, city, await signup(client, rt, city), cat.periods[cat.sessions[1].id][0].id)
    settings = target_settings(rt, target_url)
    await upgrade_async(settings)
    report = await copy_city_between(rt.settings.owner_url, settings.owner_url, city.slug)
    source = await sums_of(rt.settings.database_url, city.slug)
    assert {t.name: (t.rows, t.sha256) for t in report.tables} == source
    assert await sums_of(target_url, city.slug) == source
    assert report.rows > 0 and source["bookings"][0] == 1
    with pytest.raises(BackupError, match="exists here"):
        await copy_city_between(rt.settings.owner_url, settings.owner_url, city.slug)
    again = await copy_city_between(rt.settings.owner_url, settings.owner_url, city.slug, replace=True)
    assert again.replaced and await sums_of(target_url, city.slug) == source
