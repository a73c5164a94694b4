"""The deliveries page: what keeps failing, with its last error; retry and abandon (CSRF, audit),
a hospital administrator limited to its own hospital's, roles without the capability refused."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from guahao.core.jobs import MAX_ATTEMPTS, drain_in_process
from guahao.core.models import AuditEntry
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.console.conftest import add_staff
from tests.core.jobs.test_handlers import book
from tests.core.plugins.probes import emit_row, enable, make_member, outbox_rows
from tests.factories import make_catalogue


def _row(html: str, outbox_id: int) -> str:
    start = html.index(f'id="delivery-{outbox_id}"')
    return html[start:html.index("</tr>", start)]


async def _failing_push(rt, city):
    cat = await make_catalogue(rt, city)
    city = await enable(rt, city, "demo_his", settings={"fail_pushes": True})
    booking = await book(rt, city, await make_member(rt, city), cat.periods[cat.sessions[0].id][0].id)
    await drain_in_process(rt, city_id=city.id)
    [push] = await outbox_rows(rt, city, topic="his.push")
    return cat, city, booking, push


async def test_a_city_admin_sees_a_failing_push_and_retries_it_once_the_his_is_back(rt, city, browser, admin):
    cat, city, booking, push = await _failing_push(rt, city)
    await browser.login(admin)
    page = await browser.get(f"/console/c/{city.slug}/deliveries")
    assert page.status_code == 200 and 'id="nav-deliveries"' in page.text
    row = _row(page.text, push.id)
    assert 'data-state="retrying"' in row and "推送到医院 HIS" in row and booking.id in row and "HisUnavailable" in row
    assert 'id="count-retrying">1<' in page.text

    # Without the form's CSRF token nothing happens.
    r = await browser.post(f"/console/c/{city.slug}/deliveries/{push.id}/retry", csrf="forged")
    assert r.status_code == 403
    assert (await outbox_rows(rt, city, id=push.id))[0].due_at == push.due_at

    city = await enable(rt, city, "demo_his")  # the HIS is back; nobody waits for the back-off
    r = await browser.post(f"/console/c/{city.slug}/deliveries/{push.id}/retry", {"view": "problems"})
    assert r.status_code == 303 and r.headers["location"] == f"/console/c/{city.slug}/deliveries?view=problems"
    [row] = await outbox_rows(rt, city, id=push.id)
    assert row.status == "pending" and row.due_at <= utcnow()
    await drain_in_process(rt, city_id=city.id)
    assert (await outbox_rows(rt, city, id=push.id))[0].status == "done"
    page = await browser.get(f"/console/c/{city.slug}/deliveries")
    assert f'id="delivery-{push.id}"' not in page.text and 'id="no-deliveries"' in page.text

    with use_city(city):
        async with rt.db.transaction() as s:
            [entry] = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "outbox.retry"))).all()
    assert entry.actor == f"staff:{admin.id}" and entry.target_id == str(push.id)


async def test_abandoning_needs_a_reason_and_is_audited(rt, city, browser, admin):
    stuck = await emit_row(rt, city, "payment.void", {"booking_id": "GHXXXXXXXX", "provider": "stripe"},
                           attempts=MAX_ATTEMPTS + 1, last_error="ProviderDown: 503 from the provider",
                           due_at=utcnow() + timedelta(minutes=15))
    await browser.login(admin)
    page = await browser.get(f"/console/c/{city.slug}/deliveries")
    assert 'data-state="failing"' in _row(page.text, stuck) and "ProviderDown" in _row(page.text, stuck)
    assert 'id="count-failing" class="warn">1<' in page.text

    r = await browser.post(f"/console/c/{city.slug}/deliveries/{stuck}/abandon", {"reason": ""})
    assert r.status_code == 422 and 'id="delivery-error"' in r.text and "原因" in r.text
    assert (await outbox_rows(rt, city, id=stuck))[0].status == "pending"

    r = await browser.post(f"/console/c/{city.slug}/deliveries/{stuck}/abandon", {"reason": "患者已在窗口办理"})
    assert r.status_code == 303
    assert (await outbox_rows(rt, city, id=stuck))[0].status == "abandoned"
    page = await browser.get(f"/console/c/{city.slug}/deliveries?view=closed")
    assert 'data-state="abandoned"' in _row(page.text, stuck)
    audit = await browser.get(f"/console/c/{city.slug}/audit?action=outbox.")
    assert "outbox.abandon" in audit.text and "患者已在窗口办理" in audit.text

    r = await browser.post(f"/console/c/{city.slug}/deliveries/{stuck}/abandon", {"reason": "再次放弃"})
    assert r.status_code == 409  # already abandoned: said so, nothing changes


async def test_a_hospital_admin_sees_its_own_and_another_hospitals_row_is_404(rt, city, new_browser):
    cat, city, booking, push = await _failing_push(rt, city)
    other = await emit_row(rt, city, "member.event", {"kind": "registered", "member_id": 1})
    own_admin = await add_staff(rt, city, "hospital_admin", hospital_id=cat.hospital.id)
    ours = new_browser()
    await ours.login(own_admin)
    page = await ours.get(f"/console/c/{city.slug}/deliveries?view=open")
    assert f'id="delivery-{push.id}"' in page.text and f'id="delivery-{other}"' not in page.text
    r = await ours.post(f"/console/c/{city.slug}/deliveries/{other}/retry")
    assert r.status_code == 404

    agent = await add_staff(rt, city, "agent")
    theirs = new_browser()
    await theirs.login(agent)
    assert (await theirs.get(f"/console/c/{city.slug}/deliveries")).status_code == 403
    assert (await theirs.post(f"/console/c/{city.slug}/deliveries/{push.id}/retry")).status_code == 403
