"""Editing a hospital's campuses, departments and doctors in the console (R11.1): each form shows
the current values, refuses bad input field by field (keeping what was typed), saves with an
audit entry (before and after), and what patients read changes with it. Another hospital's row
is 404 for a hospital administrator."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from guahao.core.models import AuditEntry, Department, Doctor
from guahao.tenants.context import use_city
from tests.factories import make_catalogue

from .conftest import add_hospital, add_staff


async def _audit(rt, city, action: str) -> list[AuditEntry]:
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                         .order_by(AuditEntry.id))).all())


async def test_a_doctor_is_edited_and_patients_read_the_new_details(rt, city, app, browser, admin):
    cat = await make_catalogue(rt, city, days_ahead=1)
    with use_city(city):
        async with rt.db.transaction() as s:
            lung = Department(hospital_id=cat.hospital.id, code="03.02", name="呼吸与危重症医学科")
            s.add(lung)
    base = f"/console/c/{city.slug}/catalogue/{cat.hospital.id}"
    await browser.login(admin)
    assert f'id="doctor-edit-{cat.doctor.id}"' in (await browser.get(base)).text
    form = await browser.get(f"{base}/doctors/{cat.doctor.id}/edit")
    assert form.status_code == 200 and 'value="王建国"' in form.text and "哮喘" in form.text

    bad = {"name": "", "title": "professor", "department_id": "999999", "specialty": "哮喘",
           "introduction": "从医三十年", "photo_url": "javascript:alert(1)"}
    r = await browser.post(f"{base}/doctors/{cat.doctor.id}/edit", bad)
    assert r.status_code == 422
    for field in ("name", "title", "department_id", "photo_url"):
        assert f'id="error-{field}"' in r.text, field
    assert "从医三十年" in r.text  # what was typed stays

    good = {"name": "王建国", "title": "associate_chief", "department_id": str(lung.id),
            "specialty": "哮喘、慢阻肺", "introduction": "从医三十年，擅长难治性哮喘。",
            "photo_url": "https://img.example.cn/doctors/wang.jpg"}
    r = await browser.post(f"{base}/doctors/{cat.doctor.id}/edit", good)
    assert r.status_code == 303 and r.headers["location"].endswith(f"/catalogue/{cat.hospital.id}#doctor-{cat.doctor.id}")
    [entry] = await _audit(rt, city, "doctor.update")
    assert entry.before["title"] == "chief" and entry.after["title"] == "associate_chief"
    assert entry.after["department_id"] == lung.id and entry.actor == f"staff:{admin.id}"

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as api:
        shown = (await api.get(f"/api/v1/{city.slug}/doctors/{cat.doctor.id}")).json()
    assert shown["title"] == "associate_chief" and shown["specialty"] == "哮喘、慢阻肺"
    assert shown["department_id"] == lung.id


async def test_departments_and_campuses_are_edited_with_their_rules(rt, city, browser, admin):
    cat = await make_catalogue(rt, city, days_ahead=1)
    with use_city(city):
        async with rt.db.transaction() as s:
            other = Department(hospital_id=cat.hospital.id, code="04", name="外科")
            s.add(other)
    base = f"/console/c/{city.slug}/catalogue/{cat.hospital.id}"
    await browser.login(admin)

    r = await browser.post(f"{base}/departments/{cat.department.id}/edit", {"code": "3.1", "name": "呼吸内科"})
    assert r.status_code == 422 and 'id="error-code"' in r.text
    r = await browser.post(f"{base}/departments/{cat.department.id}/edit", {"code": "04", "name": "呼吸内科"})
    assert r.status_code == 409 and 'id="error-code"' in r.text  # another department's code
    r = await browser.post(f"{base}/departments/{cat.department.id}/edit",
                           {"code": "03.01", "name": "呼吸内科门诊", "description": "哮喘、慢阻肺、肺结节"})
    assert r.status_code == 303
    with use_city(city):
        async with rt.db.transaction() as s:
            dept = await s.get(Department, cat.department.id)
    assert (dept.name, dept.description) == ("呼吸内科门诊", "哮喘、慢阻肺、肺结节")

    r = await browser.post(f"{base}/campuses/{cat.campus.id}/edit", {"name": "", "address": "x"})
    assert r.status_code == 422 and 'id="error-name"' in r.text
    r = await browser.post(f"{base}/campuses/{cat.campus.id}/edit", {"name": "本部", "address": "东城区和平路 1 号"})
    assert r.status_code == 303
    page = await browser.get(base)
    assert "东城区和平路 1 号" in page.text and "呼吸内科门诊" in page.text
    assert [e.action for e in await _audit(rt, city, "campus.update")] == ["campus.update"]
    assert (await _audit(rt, city, "department.update"))[0].before["name"] == "呼吸内科"


async def test_a_hospital_admin_edits_only_its_own_hospitals_rows(rt, city, browser):
    cat = await make_catalogue(rt, city, days_ahead=1)
    other = await add_hospital(rt, city, "H2")
    with use_city(city):
        async with rt.db.transaction() as s:
            dept = Department(hospital_id=other.id, code="01", name="内科")
            s.add(dept)
            await s.flush()
            stranger = Doctor(hospital_id=other.id, department_id=dept.id, name="外院医生")
            s.add(stranger)
    own = await add_staff(rt, city, "hospital_admin", hospital_id=cat.hospital.id)
    await browser.login(own)
    base = f"/console/c/{city.slug}/catalogue"
    assert (await browser.get(f"{base}/{cat.hospital.id}/doctors/{cat.doctor.id}/edit")).status_code == 200
    # Another hospital's doctor, through its own hospital's URL or the other's: 404, unchanged.
    assert (await browser.get(f"{base}/{cat.hospital.id}/doctors/{stranger.id}/edit")).status_code == 404
    assert (await browser.get(f"{base}/{other.id}/doctors/{stranger.id}/edit")).status_code == 404
    r = await browser.post(f"{base}/{cat.hospital.id}/doctors/{stranger.id}/edit",
                           {"name": "改名", "title": "chief", "department_id": str(dept.id)})
    assert r.status_code == 404
    # Moving its own doctor into another hospital's department is refused.
    r = await browser.post(f"{base}/{cat.hospital.id}/doctors/{cat.doctor.id}/edit",
                           {"name": "王建国", "title": "chief", "department_id": str(dept.id)})
    assert r.status_code == 422 and 'id="error-department_id"' in r.text
    with use_city(city):
        async with rt.db.transaction() as s:
            assert (await s.get(Doctor, stranger.id)).name == "外院医生"
            assert (await s.get(Doctor, cat.doctor.id)).department_id == cat.department.id
