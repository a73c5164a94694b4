"""The console's hospital systems page over HTTP: the status table, "sync now" (CSRF, audited,
through the outbox), the reconciliation of a day with its CSV; a hospital's administrator
limited to its own hospital; roles without the capability refused."""

from __future__ import annotations

from sqlalchemy import select

from guahao.core.jobs import drain_in_process
from guahao.core.models import AuditEntry, HisSyncRun
from guahao.tenants.context import use_city
from tests.console.conftest import (  # noqa: F401  (fixtures)
    add_hospital,
    add_staff,
    browser,
    cheap_password_hashing,
    new_browser,
)
from tests.core.jobs.test_handlers import book
from tests.core.plugins.probes import make_member, outbox_rows

from .helpers import demo_settings, next_weekday, sessions_of


async def test_a_city_admin_syncs_a_hospital_and_reconciles_a_day(rt, city, catalogue, browser):  # noqa: F811
    h = catalogue.hospital
    city = await demo_settings(rt, city, h.id, schedule_doctors="*")
    admin = await add_staff(rt, city, "city_admin")
    await browser.login(admin)

    page = await browser.get(f"/console/c/{city.slug}/his")
    assert page.status_code == 200 and 'id="nav-his"' in page.text and "医院信息系统" in page.text and "立即同步" in page.text
    assert f'id="his-{h.id}" data-degraded="no"' in page.text and f'id="sync-{h.id}"' in page.text

    forged = await browser.post(f"/console/c/{city.slug}/his/{h.id}/sync", csrf="forged")
    assert forged.status_code == 403 and await outbox_rows(rt, city, topic="his.sync") == []

    r = await browser.post(f"/console/c/{city.slug}/his/{h.id}/sync")
    assert r.status_code == 303 and r.headers["location"] == f"/console/c/{city.slug}/his"
    [row] = await outbox_rows(rt, city, topic="his.sync")
    assert row.payload == {"hospital_id": h.id, "kind": "schedules", "trigger": "console"}
    await browser.post(f"/console/c/{city.slug}/his/{h.id}/sync")  # asked twice: one pull
    assert len(await outbox_rows(rt, city, topic="his.sync")) == 1
    await drain_in_process(rt, city_id=city.id)
    assert await sessions_of(rt, city, h.id)
    with use_city(city):
        async with rt.db.transaction() as s:
            [run] = (await s.scalars(select(HisSyncRun).where(HisSyncRun.kind == "schedules"))).all()
            entries = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "his.sync_request"))).all()
    assert (run.trigger, run.outcome) == ("console", "ok")
    assert [e.actor for e in entries] == [f"staff:{admin.id}"] * 2

    day = next_weekday(city)
    page = await browser.get(f"/console/c/{city.slug}/his?hospital={h.id}&date={day.isoformat()}")
    assert page.status_code == 200 and 'id="reconcile-summary"' in page.text
    missing = [x for x in catalogue.sessions if x.date == day]
    assert page.text.count('data-code="missing_at_his"') == len(missing)
    csv = await browser.get(f"/console/c/{city.slug}/his/reconcile.csv?hospital={h.id}&date={day.isoformat()}")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("kind,code,message") and len(lines) == 1 + len(missing)
    bad = await browser.get(f"/console/c/{city.slug}/his?hospital={h.id}&date=soon")
    assert bad.status_code == 200 and 'id="his-error"' in bad.text


async def test_a_degraded_hospital_shows_as_such(rt, city, catalogue, browser):  # noqa: F811
    h = catalogue.hospital
    city = await demo_settings(rt, city, h.id, fail_pushes=True)
    await book(rt, city, await make_member(rt, city), catalogue.periods[catalogue.sessions[0].id][0].id)
    await drain_in_process(rt, city_id=city.id)
    await browser.login(await add_staff(rt, city, "city_admin"))
    page = await browser.get(f"/console/c/{city.slug}/his?check=1")
    assert f'id="his-{h.id}" data-degraded="yes"' in page.text and f'id="degraded-{h.id}"' in page.text


async def test_a_hospital_admin_sees_only_its_own_hospital(rt, city, catalogue, new_browser):  # noqa: F811
    other = await add_hospital(rt, city, "H9")
    own = new_browser()
    await own.login(await add_staff(rt, city, "hospital_admin", hospital_id=catalogue.hospital.id))
    page = await own.get(f"/console/c/{city.slug}/his")
    assert f'id="his-{catalogue.hospital.id}"' in page.text and f'id="his-{other.id}"' not in page.text
    assert (await own.post(f"/console/c/{city.slug}/his/{other.id}/sync")).status_code == 404
    assert (await own.get(f"/console/c/{city.slug}/his?hospital={other.id}&date=2030-01-02")).status_code == 404
    assert (await own.get(f"/console/c/{city.slug}/his/reconcile.csv?hospital={other.id}&date=2030-01-02")
            ).status_code == 404
    assert await outbox_rows(rt, city, topic="his.sync") == []

    scheduler = new_browser()
    await scheduler.login(await add_staff(rt, city, "scheduler", hospital_id=catalogue.hospital.id))
    assert (await scheduler.get(f"/console/c/{city.slug}/his")).status_code == 403
    assert (await scheduler.post(f"/console/c/{city.slug}/his/{catalogue.hospital.id}/sync")).status_code == 403


async def test_another_citys_hospital_is_not_found(rt, city, catalogue, browser):  # noqa: F811
    from tests.factories import make_catalogue, make_city

    elsewhere = await make_city(rt, f"{city.slug}-b")
    theirs = await make_catalogue(rt, elsewhere)
    await browser.login(await add_staff(rt, city, "city_admin"))
    r = await browser.post(f"/console/c/{city.slug}/his/{theirs.hospital.id}/sync")
    assert r.status_code == 404
    assert await outbox_rows(rt, city, topic="his.sync") == [] and await outbox_rows(rt, elsewhere, topic="his.sync") == []
