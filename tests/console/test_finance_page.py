"""The finance page (R6.4): a day's totals per provider and its mismatches; re-query and resolve
(CSRF, audit), CSV/XLSX export, a hospital administrator limited to its own hospital, roles
without the capability refused."""

from __future__ import annotations

import io
from datetime import datetime

from openpyxl import load_workbook
from sqlalchemy import select

from guahao.core.models import AuditEntry
from guahao.core.payments.reconcile import reconcile
from guahao.tenants.context import use_city
from tests.console.conftest import add_hospital, add_staff
from tests.core.reconcile.helpers import NAME, line, pay_city


def _row(html: str, mismatch_id: int) -> str:
    start = html.index(f'id="mismatch-{mismatch_id}"')
    return html[start:html.index("</tr>", start)]


async def _reconciled_day(rt, city, register_plugin):
    """A day with a payment the platform missed (its booking held) and one the provider does not list."""
    pc = await pay_city(rt, city, register_plugin)
    listed, unlisted = await pc.paid(0), await pc.paid(1)
    held = await pc.held(2)
    pc.provider.lines = [line("payment", listed.payment_ref, pc.fee, "paid"),
                         line("payment", f"pi-{held.id}", pc.fee, "paid", booking_id=held.id)]
    day = datetime.now(pc.city.tz).date()
    with use_city(pc.city):
        await reconcile(rt, NAME, day)
    by_kind = {m.kind: m for m in await pc.mismatches()}
    return pc, day, by_kind["status_differs"], by_kind["missing_at_provider"], held, unlisted


async def test_a_city_admin_sees_the_day_requeries_resolves_and_exports(rt, city, browser, admin, register_plugin):
    pc, day, paid_late, unlisted_m, held, unlisted = await _reconciled_day(rt, city, register_plugin)
    slug = pc.city.slug
    await browser.login(admin)
    page = await browser.get(f"/console/c/{slug}/finance?day={day}")
    assert page.status_code == 200 and 'id="nav-finance"' in page.text
    assert f'id="run-{NAME}" data-outcome="mismatches"' in page.text
    fee_yuan = f"{pc.fee // 100}.{pc.fee % 100:02d}"
    assert f'id="total-{NAME}-platform-paid">{pc.fee * 2 // 100}.00<' in page.text
    assert f'id="total-{NAME}-provider-paid">{pc.fee * 2 // 100}.00<' in page.text
    row = _row(page.text, paid_late.id)
    assert 'data-kind="status_differs"' in row and held.id in row and "unpaid" in row and fee_yuan in row
    assert unlisted.id in _row(page.text, unlisted_m.id)

    # Without the form's CSRF token nothing happens.
    r = await browser.post(f"/console/c/{slug}/finance/mismatches/{paid_late.id}/requery", {"day": str(day)},
                           csrf="forged")
    assert r.status_code == 403 and pc.provider.asked == []

    r = await browser.post(f"/console/c/{slug}/finance/mismatches/{paid_late.id}/requery", {"day": str(day)})
    assert r.status_code == 303 and r.headers["location"] == f"/console/c/{slug}/finance?day={day}"
    assert pc.provider.asked == [held.id]
    assert (await pc.booking(held.id)).payment_status == "paid"
    page = await browser.get(r.headers["location"])
    assert 'data-state="resolved"' in _row(page.text, paid_late.id)

    r = await browser.post(f"/console/c/{slug}/finance/mismatches/{unlisted_m.id}/resolve", {"day": str(day), "note": ""})
    assert r.status_code == 422 and 'id="mismatch-error"' in r.text
    r = await browser.post(f"/console/c/{slug}/finance/mismatches/{unlisted_m.id}/resolve",
                           {"day": str(day), "note": "微信支付次日账单已列出"})
    assert r.status_code == 303
    [m] = await pc.mismatches(id=unlisted_m.id)
    assert m.status == "resolved" and m.note == "微信支付次日账单已列出"

    csv_file = await browser.get(f"/console/c/{slug}/finance/export?day={day}&format=csv")
    assert csv_file.status_code == 200 and csv_file.headers["content-type"].startswith("text/csv")
    text = csv_file.content.decode("utf-8-sig")
    assert held.id in text and unlisted.id in text and "微信支付次日账单已列出" in text and len(text.splitlines()) == 3
    xlsx = await browser.get(f"/console/c/{slug}/finance/export?day={day}&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    cells = [[c.value for c in r] for r in sheet.iter_rows()]
    assert len(cells) == 3 and {cells[1][4], cells[2][4]} == {held.id, unlisted.id}

    with use_city(pc.city):
        async with rt.db.transaction() as s:
            actions = [e.action for e in (await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()]
    assert {"payment.requery", "payment.mismatch_resolve", "payment.reconciliation_export"} <= set(actions)

    r = await browser.post(f"/console/c/{slug}/finance/run", {"day": str(day)})
    assert r.status_code == 303
    assert [m.status for m in await pc.mismatches()] == ["resolved", "resolved"]  # nothing new, nothing reopened


async def test_a_hospital_admin_sees_only_its_hospital(rt, city, new_browser, register_plugin):
    pc, day, paid_late, unlisted_m, held, _ = await _reconciled_day(rt, city, register_plugin)
    other = await add_hospital(rt, pc.city, "H9")
    own_admin = await add_staff(rt, pc.city, "hospital_admin", hospital_id=pc.cat.hospital.id)
    other_admin = await add_staff(rt, pc.city, "hospital_admin", hospital_id=other.id)
    slug = pc.city.slug

    mine = new_browser()
    await mine.login(own_admin)
    page = await mine.get(f"/console/c/{slug}/finance?day={day}")
    assert page.status_code == 200 and f'id="mismatch-{paid_late.id}"' in page.text and 'id="run-day"' not in page.text
    assert f'id="total-{NAME}-platform-paid">{pc.fee * 2 // 100}.00<' in page.text

    theirs = new_browser()
    await theirs.login(other_admin)
    page = await theirs.get(f"/console/c/{slug}/finance?day={day}")
    assert page.status_code == 200 and 'id="no-mismatches"' in page.text and held.id not in page.text
    assert f'id="total-{NAME}-platform-paid">0.00<' in page.text
    r = await theirs.post(f"/console/c/{slug}/finance/mismatches/{paid_late.id}/requery", {"day": str(day)})
    assert r.status_code == 404 and pc.provider.asked == []
    r = await theirs.post(f"/console/c/{slug}/finance/mismatches/{unlisted_m.id}/resolve",
                          {"day": str(day), "note": "不是我们的"})
    assert r.status_code == 404 and (await pc.mismatches(id=unlisted_m.id))[0].status == "open"
    export = await theirs.get(f"/console/c/{slug}/finance/export?day={day}&format=csv")
    assert held.id not in export.content.decode("utf-8-sig")
    assert (await theirs.post(f"/console/c/{slug}/finance/run", {"day": str(day)})).status_code == 403


async def test_roles_without_the_capability_and_bad_days_are_refused(rt, city, browser, admin, register_plugin):
    pc = await pay_city(rt, city, register_plugin)
    scheduler = await add_staff(rt, pc.city, "scheduler", hospital_id=pc.cat.hospital.id)
    await browser.login(scheduler)
    assert (await browser.get(f"/console/c/{pc.city.slug}/finance")).status_code == 403
    await browser.login(admin)
    page = await browser.get(f"/console/c/{pc.city.slug}/finance")
    assert page.status_code == 200 and 'id="no-runs"' in page.text  # yesterday, not reconciled yet
    assert (await browser.get(f"/console/c/{pc.city.slug}/finance?day=2026-13-40")).status_code == 422
