"""Roles see only their links; scope tampering by URL or form field changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from guahao.core.models import AuditEntry, Doctor
from guahao.core.models.staff import StaffAccount
from guahao.tenants.context import use_city
from tests.factories import make_city

from .conftest import add_hospital, add_staff, add_vendor

ALL_LINKS = {"nav-staff", "nav-settings", "nav-audit"}
EXPECTED = {
    "city_admin": {"nav-staff", "nav-settings", "nav-audit"},
    "hospital_admin": {"nav-staff"},
    "scheduler": set(),
    "agent": set(),
    "bureau_viewer": set(),
}


@pytest.mark.parametrize("role", sorted(EXPECTED))
async def test_each_role_sees_only_its_links(rt, city, browser, role):
    hospital = await add_hospital(rt, city, f"H-{role}")
    who = await add_staff(rt, city, role, hospital_id=hospital.id if role in ("hospital_admin", "scheduler") else None)
    await browser.login(who)
    home = await browser.get(f"/console/c/{city.slug}/")
    assert home.status_code == 200
    shown = {link for link in ALL_LINKS if f'id="{link}"' in home.text}
    assert shown == EXPECTED[role]
    for link in ALL_LINKS - EXPECTED[role]:
        page = link.removeprefix("nav-")
        assert (await browser.get(f"/console/c/{city.slug}/{page}")).status_code == 403


async def _row(rt, city, account_id) -> StaffAccount:
    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.get(StaffAccount, account_id)


async def test_hospital_admin_cannot_reach_another_hospitals_staff(rt, city, browser):
    a, b = await add_hospital(rt, city, "HA"), await add_hospital(rt, city, "HB")
    admin_a = await add_staff(rt, city, "hospital_admin", hospital_id=a.id)
    sched_a = await add_staff(rt, city, "scheduler", hospital_id=a.id)
    sched_b = await add_staff(rt, city, "scheduler", hospital_id=b.id)
    city_admin = await add_staff(rt, city, "city_admin")
    await browser.login(admin_a)

    listing = await browser.get(f"/console/c/{city.slug}/staff")
    assert sched_a.username in listing.text and sched_b.username not in listing.text
    assert city_admin.username not in listing.text

    # by URL
    assert (await browser.get(f"/console/c/{city.slug}/staff/{sched_b.id}")).status_code == 404
    assert (await browser.get(f"/console/c/{city.slug}/staff/{city_admin.id}")).status_code == 404
    await browser.get(f"/console/c/{city.slug}/staff")
    before = await _row(rt, city, sched_b.id)
    for action, data in (("", {"display_name": "hacked", "role": "scheduler", "hospital_id": str(b.id)}),
                         ("/password", {"password": "new-password-99"}),
                         ("/active", {"active": "0"})):
        r = await browser.post(f"/console/c/{city.slug}/staff/{sched_b.id}{action}", data)
        assert r.status_code == 404
    assert (await _row(rt, city, sched_b.id)).model_dump() == before.model_dump()

    # by form field: move their own scheduler to hospital B, create a scheduler in B, create a city admin
    r = await browser.post(f"/console/c/{city.slug}/staff/{sched_a.id}",
                           {"display_name": "moved", "role": "scheduler", "hospital_id": str(b.id)})
    assert r.status_code == 404
    assert (await _row(rt, city, sched_a.id)).hospital_id == a.id
    r = await browser.post(f"/console/c/{city.slug}/staff/new", {"username": "sneaky", "display_name": "x",
                                                                  "role": "scheduler", "hospital_id": str(b.id),
                                                                  "password": "long-password-1"})
    assert r.status_code == 404
    r = await browser.post(f"/console/c/{city.slug}/staff/new", {"username": "sneaky2", "display_name": "x",
                                                                  "role": "city_admin", "password": "long-password-1"})
    assert r.status_code == 403
    with use_city(city):
        async with rt.db.transaction() as s:
            names = set((await s.scalars(select(StaffAccount.username))).all())
            entries = (await s.scalars(select(AuditEntry).where(AuditEntry.actor == f"staff:{admin_a.id}",
                                                                AuditEntry.action != "staff.login"))).all()
    assert not {"sneaky", "sneaky2"} & names
    assert entries == []

    # their own hospital works, and the hospital is forced to theirs
    r = await browser.post(f"/console/c/{city.slug}/staff/new", {"username": "ok.sched", "display_name": "排班员",
                                                                  "role": "scheduler", "password": "long-password-1"})
    assert r.status_code == 303
    with use_city(city):
        async with rt.db.transaction() as s:
            created = await s.scalar(select(StaffAccount).where(StaffAccount.username == "ok.sched"))
    assert created.hospital_id == a.id


async def test_staff_of_one_city_cannot_open_another(rt, city, browser):
    other = await make_city(rt, f"{city.slug}-b")
    admin = await add_staff(rt, city, "city_admin")
    other_admin = await add_staff(rt, other, "city_admin")
    await browser.login(admin)
    for path in ("", "staff", f"staff/{other_admin.id}", "settings", "audit"):
        r = await browser.get(f"/console/c/{other.slug}/{path}")
        assert r.status_code == 404, path
    r = await browser.post(f"/console/c/{other.slug}/settings/districts", {"code": "99", "name": "x"})
    assert r.status_code == 404
    # their own account id in the other city is not theirs either
    assert (await browser.get(f"/console/c/{city.slug}/staff/{other_admin.id}")).status_code == 404


async def test_vendor_enters_every_city(rt, city, browser):
    other = await make_city(rt, f"{city.slug}-v")
    vendor = await add_vendor(rt)
    await browser.login(vendor)
    for c in (city, other):
        home = await browser.get(f"/console/c/{c.slug}/")
        assert home.status_code == 200 and 'id="nav-settings"' in home.text and 'id="nav-vendor"' in home.text


async def test_anonymous_visitors_are_sent_to_log_in(city, browser):
    r = await browser.get(f"/console/c/{city.slug}/staff")
    assert r.status_code == 303
    assert r.headers["location"] == f"/console/c/{city.slug}/login?next=/console/c/{city.slug}/staff"
    assert (await browser.get("/console/vendor/")).headers["location"].startswith("/console/login")


async def test_staff_cannot_open_vendor_pages(rt, city, browser, admin):
    await browser.login(admin)
    assert (await browser.get("/console/vendor/")).status_code == 404
    assert (await browser.get("/console/vendor/audit")).status_code == 404


async def test_doctor_account_needs_a_doctor_of_its_hospital(rt, city, catalogue, browser, admin):
    other = await add_hospital(rt, city, "H9")
    await browser.login(admin)
    await browser.get(f"/console/c/{city.slug}/staff/new")
    base = {"username": "dr.wang", "display_name": "王医生", "role": "doctor", "password": "long-password-1"}
    r = await browser.post(f"/console/c/{city.slug}/staff/new", {**base, "hospital_id": str(catalogue.hospital.id)})
    assert r.status_code == 422 and 'id="error-doctor_id"' in r.text
    r = await browser.post(f"/console/c/{city.slug}/staff/new",
                           {**base, "hospital_id": str(other.id), "doctor_id": str(catalogue.doctor.id)})
    assert r.status_code == 422 and "其他医院" in r.text
    r = await browser.post(f"/console/c/{city.slug}/staff/new",
                           {**base, "hospital_id": str(catalogue.hospital.id), "doctor_id": str(catalogue.doctor.id)})
    assert r.status_code == 303
    r = await browser.post(f"/console/c/{city.slug}/staff/new", {"username": "clerk1", "display_name": "转诊员",
                                                                  "role": "referral_clerk", "hospital_id": str(other.id),
                                                                  "password": "long-password-1"})
    assert r.status_code == 422 and 'id="error-hospital_id"' in r.text
    with use_city(city):
        async with rt.db.transaction() as s:
            dr = await s.scalar(select(StaffAccount).where(StaffAccount.username == "dr.wang"))
            assert (await s.get(Doctor, dr.doctor_id)).hospital_id == catalogue.hospital.id
