"""Hospital catalogue pages: city administrators manage every hospital, a hospital
administrator only their own; codes unique, fees in yuan stored as fen, every change audited."""

from __future__ import annotations

from sqlalchemy import select

from guahao.core.models import AuditEntry, Department, Doctor, Hospital, RegistrationType
from guahao.tenants.context import use_city
from tests.factories import make_catalogue

from .conftest import add_hospital, add_staff


async def _one(rt, city, stmt):
    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.scalar(stmt)


async def test_city_admin_creates_and_edits_hospitals(rt, city, browser, admin):
    await browser.login(admin)
    base = f"/console/c/{city.slug}/catalogue"
    page = await browser.get(base)
    assert page.status_code == 200 and 'id="hospital-new"' in page.text
    await browser.get(f"{base}/new")
    r = await browser.post(f"{base}/new", {"code": "H9", "name": "第九医院", "kind": "general", "level": "2",
                                           "grade": "乙"})
    assert r.status_code == 303
    hospital = await _one(rt, city, select(Hospital).where(Hospital.code == "H9"))
    assert (hospital.level, hospital.grade) == (2, "乙")
    dup = await browser.post(f"{base}/new", {"code": "H9", "name": "另一家"})
    assert dup.status_code == 409 and 'id="error-code"' in dup.text
    bad = await browser.post(f"{base}/new", {"code": "H 10", "name": ""})
    assert bad.status_code == 422 and 'id="error-name"' in bad.text and 'id="error-code"' in bad.text

    r = await browser.post(f"{base}/{hospital.id}/edit", {"code": "H9", "name": "第九人民医院", "level": "3",
                                                          "grade": "甲", "active": "0"})
    assert r.status_code == 303
    edited = await _one(rt, city, select(Hospital).where(Hospital.id == hospital.id))
    assert (edited.name, edited.active) == ("第九人民医院", False)
    entry = await _one(rt, city, select(AuditEntry).where(AuditEntry.action == "hospital.update"))
    assert entry.before["name"] == "第九医院" and entry.after["active"] is False

    # fees: yuan in the form, fen stored; an existing code is updated
    r = await browser.post(f"{base}/{hospital.id}/fees", {"code": "expert", "name": "专家号", "fee": "25.5"})
    assert r.status_code == 303
    r = await browser.post(f"{base}/{hospital.id}/fees", {"code": "expert", "name": "专家号", "fee": "30"})
    assert r.status_code == 303
    fee = await _one(rt, city, select(RegistrationType.fee_fen).where(RegistrationType.hospital_id == hospital.id))
    assert fee == 3000
    bad_fee = await browser.post(f"{base}/{hospital.id}/fees", {"code": "general", "name": "普通号", "fee": "1.234"})
    assert bad_fee.status_code == 422 and 'id="error-fees-fee"' in bad_fee.text

    r = await browser.post(f"{base}/{hospital.id}/departments", {"code": "03.01", "name": "呼吸内科"})
    assert r.status_code == 303
    again = await browser.post(f"{base}/{hospital.id}/departments", {"code": "03.01", "name": "重复"})
    assert again.status_code == 409
    department = await _one(rt, city, select(Department).where(Department.hospital_id == hospital.id))
    r = await browser.post(f"{base}/{hospital.id}/campuses", {"name": "本部", "address": "和平路 1 号"})
    assert r.status_code == 303
    r = await browser.post(f"{base}/{hospital.id}/doctors", {"name": "孙医生", "department_id": str(department.id),
                                                             "title": "chief"})
    assert r.status_code == 303
    page = await browser.get(f"{base}/{hospital.id}")
    assert "孙医生" in page.text and "¥30.00" in page.text and "本部" in page.text


async def test_hospital_admin_manages_only_own_hospital(rt, city, browser):
    cat = await make_catalogue(rt, city, days_ahead=1)
    other = await add_hospital(rt, city, "H2")
    hospital_admin = await add_staff(rt, city, "hospital_admin", hospital_id=cat.hospital.id)
    await browser.login(hospital_admin)
    base = f"/console/c/{city.slug}/catalogue"

    page = await browser.get(base)
    assert f'id="hospital-{cat.hospital.id}"' in page.text and f'id="hospital-{other.id}"' not in page.text
    assert 'id="hospital-new"' not in page.text
    assert (await browser.get(f"{base}/new")).status_code == 403
    assert (await browser.get(f"{base}/{other.id}")).status_code == 404
    r = await browser.post(f"{base}/{other.id}/fees", {"code": "x", "name": "x", "fee": "1"})
    assert r.status_code == 404
    r = await browser.post(f"{base}/{other.id}/edit", {"code": "H2", "name": "改名"})
    assert r.status_code == 404
    assert (await browser.post(f"{base}/{cat.hospital.id}/edit", {"code": "H1", "name": "改名"})).status_code == 403

    # deactivate and reactivate a doctor of their own hospital, audited
    url = f"{base}/{cat.hospital.id}/doctors/{cat.doctor.id}/active"
    assert (await browser.post(url, {"active": "0"})).status_code == 303
    assert await _one(rt, city, select(Doctor.active).where(Doctor.id == cat.doctor.id)) is False
    assert (await browser.post(url, {"active": "1"})).status_code == 303
    assert await _one(rt, city, select(Doctor.active).where(Doctor.id == cat.doctor.id)) is True
    # another hospital's doctor through their own hospital's URL: 404
    with use_city(city):
        async with rt.db.transaction() as s:
            dept = Department(hospital_id=other.id, code="01", name="内科")
            s.add(dept)
            await s.flush()
            stranger = Doctor(hospital_id=other.id, department_id=dept.id, name="外院医生")
            s.add(stranger)
    r = await browser.post(f"{base}/{cat.hospital.id}/doctors/{stranger.id}/active", {"active": "0"})
    assert r.status_code == 404
    assert await _one(rt, city, select(Doctor.active).where(Doctor.id == stranger.id)) is True
    refused = await browser.post(url, {"active": "0"}, csrf="stale")
    assert refused.status_code == 403
    assert await _one(rt, city, select(Doctor.active).where(Doctor.id == cat.doctor.id)) is True
