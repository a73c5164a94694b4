"""The console's page of third-party applications: a city administrator registers one (the
secret shown once, working at the token endpoint), sees it listed with its bookings today,
disables it (its tokens stop) and enables it; every change is audited; a scheduler may not."""

from __future__ import annotations

import re

from sqlalchemy import select

from guahao.core.models import AuditEntry
from guahao.tenants.context import use_city
from tests.console.conftest import add_staff, browser, cheap_password_hashing  # noqa: F401  (fixtures)


async def test_register_list_disable_and_enable(fhir_city, browser):  # noqa: F811
    fc = fhir_city
    admin = await add_staff(fc.rt, fc.city, "city_admin")
    await browser.login(admin)
    page = await browser.get(f"/console/c/{fc.city.slug}/api-clients")
    assert page.status_code == 200 and 'id="nav-api-clients"' in page.text and "第三方应用" in page.text
    assert 'data-client="' + fc.client_id + '"' in page.text and "not-enabled" not in page.text

    added = await browser.post(f"/console/c/{fc.city.slug}/api-clients",
                               [("name", "保险助手"), ("scope", "system/Slot.read"), ("daily_quota", "3"),
                                ("rate_per_minute", "30")])
    assert added.status_code == 200 and "只显示这一次" in added.text
    client_id = re.search(r'id="client-id">([^<]+)<', added.text).group(1)
    secret = re.search(r'id="client-secret">([^<]+)<', added.text).group(1)
    token = await fc.token(client_id, secret)
    assert (await fc.get("Slot", token)).status_code == 200
    assert (await fc.get("Appointment", token)).status_code == 403  # only the scope it was given
    again = await browser.get(f"/console/c/{fc.city.slug}/api-clients")
    assert secret not in again.text and f'data-client="{client_id}" data-active="yes"' in again.text

    bad = await browser.post(f"/console/c/{fc.city.slug}/api-clients", [("name", "坏"), ("scope", "system/*.*")])
    assert bad.status_code == 422 and 'id="error-message"' in bad.text

    off = await browser.post(f"/console/c/{fc.city.slug}/api-clients/{client_id}/disable", [])
    assert off.status_code in (303, 200)
    assert (await fc.get("Slot", token)).status_code == 401
    listed = await browser.get(f"/console/c/{fc.city.slug}/api-clients")
    assert f'data-client="{client_id}" data-active="no"' in listed.text
    await browser.post(f"/console/c/{fc.city.slug}/api-clients/{client_id}/enable", [])
    assert (await fc.get("Slot", await fc.token(client_id, secret))).status_code == 200

    with use_city(fc.city):
        async with fc.rt.db.transaction() as s:
            actions = (await s.scalars(select(AuditEntry.action).where(AuditEntry.target_id == client_id)
                                       .order_by(AuditEntry.id))).all()
    assert list(actions) == ["fhir_client.add", "fhir_client.disable", "fhir_client.enable"]

    scheduler = await add_staff(fc.rt, fc.city, "scheduler", hospital_id=fc.cat.hospital.id)
    await browser.login(scheduler)
    assert (await browser.get(f"/console/c/{fc.city.slug}/api-clients")).status_code == 403
