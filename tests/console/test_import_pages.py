"""Catalogue import through the console: upload, preview with every error, apply all or nothing."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select

from guahao.core.demo.files import DEMO_DIR
from guahao.core.models import AuditEntry, Doctor, Hospital, RegistrationType
from guahao.tenants.context import use_city

from .conftest import add_staff

CSV_NAMES = ("districts", "hospitals", "campuses", "departments", "registration_types", "doctors")
TOKEN_RE = re.compile(r'name="token" value="([^"]+)"')


def _demo_csv() -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"{n}.csv", (DEMO_DIR / f"{n}.csv").read_bytes(), "text/csv")) for n in CSV_NAMES]


async def _upload(browser, city, files, csrf=None):
    if not browser.csrf:
        await browser.get(f"/console/c/{city.slug}/import")
    r = await browser.client.post(f"/console/c/{city.slug}/import/preview", files=files,
                                  data={"csrf": browser.csrf if csrf is None else csrf})
    return r


async def _count(rt, city, model) -> int:
    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.scalar(select(func.count()).select_from(model))


async def test_demo_files_import_into_a_fresh_city(rt, city, browser, admin):
    await browser.login(admin)
    page = await browser.get(f"/console/c/{city.slug}/import")
    assert page.status_code == 200 and 'id="import-form"' in page.text and "doctors.csv" in page.text
    assert 'id="nav-import"' in page.text

    r = await _upload(browser, city, _demo_csv())
    assert r.status_code == 200, r.text
    assert 'id="import-errors"' not in r.text and 'id="apply-form"' in r.text
    hospitals_row = re.search(r'<tr id="sheet-hospitals">.*?</tr>', r.text, re.S).group(0)
    assert '<td class="created">13</td>' in hospitals_row
    assert await _count(rt, city, Hospital) == 0  # the preview writes nothing
    token = TOKEN_RE.search(r.text).group(1)

    done = await browser.post(f"/console/c/{city.slug}/import/apply", {"token": token})
    assert done.status_code == 200 and 'id="import-done"' in done.text
    assert await _count(rt, city, Hospital) == 13
    assert await _count(rt, city, Doctor) > 13
    with use_city(city):
        async with rt.db.transaction() as s:
            [entry] = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "catalogue.import"))).all()
            fee = await s.scalar(select(RegistrationType.fee_fen).order_by(RegistrationType.fee_fen.desc()).limit(1))
    assert entry.actor == f"staff:{admin.id}" and fee > 0

    # the stored upload is gone once applied; the same workbook again changes nothing
    again = await browser.post(f"/console/c/{city.slug}/import/apply", {"token": token})
    assert again.status_code == 404
    workbook = [("files", ("demo.xlsx", (DEMO_DIR / "demo.xlsx").read_bytes(),
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))]
    r = await _upload(browser, city, workbook)
    assert r.status_code == 200
    row = re.search(r'<tr id="sheet-hospitals">.*?</tr>', r.text, re.S).group(0)
    assert '<td class="created">0</td>' in row and '<td class="unchanged">13</td>' in row


async def test_files_with_errors_list_them_and_cannot_be_applied(rt, city, browser, admin):
    await browser.login(admin)
    bad = (
        "医院编码,医院名称,简称,类别,级别,等次,区县编码\n"
        "H1,第一医院,一院,综合医院,三级,甲,01\n"
        "H2,,二院,综合医院,五级,甲,01\n"
        "H3,第三医院,三院,综合医院,三级,甲,99\n"
    ).encode()
    r = await _upload(browser, city, [("files", ("hospitals.csv", bad, "text/csv"))])
    assert r.status_code == 422
    assert 'id="import-errors"' in r.text and 'id="apply-form"' not in r.text
    problems = re.findall(r'<tr class="problem" data-code="([a-z_]+)">', r.text)
    assert {"missing_value", "bad_level", "unknown_district"} <= set(problems)
    assert "必填项不能为空" in r.text  # in the person's language (zh-CN by default)
    await browser.post("/console/lang", {"lang": "en", "next": f"/console/c/{city.slug}/import"})
    r = await _upload(browser, city, [("files", ("hospitals.csv", bad, "text/csv"))])
    assert "A value is required." in r.text
    assert await _count(rt, city, Hospital) == 0


async def test_upload_token_is_bound_to_account_and_city_and_csrf_is_checked(rt, city, browser, new_browser, admin):
    await browser.login(admin)
    refused = await _upload(browser, city, _demo_csv(), csrf="forged")
    assert refused.status_code == 403
    r = await _upload(browser, city, _demo_csv())
    token = TOKEN_RE.search(r.text).group(1)

    other_admin = await add_staff(rt, city, "city_admin")
    other = new_browser()
    await other.login(other_admin)
    assert (await other.post(f"/console/c/{city.slug}/import/apply", {"token": token})).status_code == 404
    assert (await other.post(f"/console/c/{city.slug}/import/apply", {"token": "../../etc"})).status_code == 404
    assert await _count(rt, city, Hospital) == 0

    agent = await add_staff(rt, city, "agent")
    third = new_browser()
    await third.login(agent)
    assert (await third.get(f"/console/c/{city.slug}/import")).status_code == 403
    assert Path(DEMO_DIR).is_dir()
