"""Returned items of a paid fee order: a hospital administrator ticks them in the console, the
money goes back as a named partial refund through WeChat Pay (two items of one price are two
refunds), the HIS is told, and another hospital's administrator cannot touch the order."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from guahao.core.models import AuditEntry, FeeOrder
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.console.conftest import Browser, add_hospital, add_staff

from .test_fees import _order, _visited, pay_all_fees


async def _paid_order(client, pc) -> tuple[FeeOrder, int]:
    visitor, booking = await _visited(client, pc)
    return await _order(pc, await pay_all_fees(client, pc, visitor, booking)), booking.hospital_id


async def test_a_hospital_refunds_a_returned_drug_from_the_console(client, app, pay_city):
    pc = pay_city
    pc.merchant.refund_status = "SUCCESS"
    order, hospital_id = await _paid_order(client, pc)
    drug = order.items[0]
    staff = await add_staff(pc.rt, pc.city, "hospital_admin", hospital_id=hospital_id)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        console = Browser(c)
        assert (await console.login(staff)).status_code == 303
        root = f"/console/c/{pc.city.slug}/finance/fees"
        day = order.paid_at.astimezone(pc.city.tz).date().isoformat()
        page = await console.get(f"{root}?day={day}")
        assert page.status_code == 200 and f'id="order-{order.id}"' in page.text and drug["name"] in page.text
        none = await console.post(f"{root}/{order.id}/refund", {"day": day, "reason": "退药"})
        assert none.status_code == 409 and "请至少选择一项" in none.text
        done = await console.post(f"{root}/{order.id}/refund",
                                  {"day": day, "reason": "患者退药", f"item:{drug['item_id']}": "1"})
        assert done.status_code == 303
        again = await console.post(f"{root}/{order.id}/refund", {"day": day, f"item:{drug['item_id']}": "1"})
        assert again.status_code == 409 and "fee_items_changed" not in again.text  # a sentence, not a code

    await pc.run_topic("payment.refund")
    await pc.run_topic("payment.refund")  # a retried job asks nothing more
    refunds = [r for r in pc.merchant.refunds.values() if r["out_trade_no"] == f"{order.id}_N"]
    assert len(refunds) == 1 and refunds[0]["amount"]["refund"] == drug["amount_fen"]
    after = await _order(pc, order.id)
    assert after.status == "paid"  # the exam is still paid
    [returned] = [i for i in after.items if i.get("refund")]
    assert returned["item_id"] == drug["item_id"] and returned["refund"]["status"] == "refunded"
    with use_city(pc.city):
        async with pc.rt.db.transaction() as s:
            [entry] = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "fees.refund_items"))).all()
    assert order.id in entry.summary and "患者退药" in entry.summary


async def test_two_items_of_one_price_are_two_refunds_and_all_back_closes_the_order(client, pay_city):
    from guahao.core.audit import SYSTEM
    from guahao.core.payments import fees

    pc = pay_city
    pc.merchant.refund_status = "SUCCESS"
    order, _ = await _paid_order(client, pc)
    with use_city(pc.city):
        async with pc.rt.db.transaction() as s:  # both items cost the same: only their names tell them apart
            row = await s.scalar(select(FeeOrder).where(FeeOrder.id == order.id))
            row.items = [{**i, "amount_fen": order.amount_fen // 2} for i in row.items]
            row.amount_fen = order.amount_fen // 2 * 2
    with use_city(pc.city):
        for item in order.items:
            async with pc.rt.db.transaction() as s:
                await fees.refund_items(s, order.id, [item["item_id"]], actor=SYSTEM, reason="退药")
            await pc.run_topic("payment.refund")
    refunds = [r for r in pc.merchant.refunds.values() if r["out_trade_no"] == f"{order.id}_N"]
    assert len(refunds) == 2 and {r["out_refund_no"] for r in refunds} == {f"{order.id}_N-RR1", f"{order.id}_N-RR2"}
    after = await _order(pc, order.id)
    assert after.status == "refunded" and fees.refunded_fen(after) == after.amount_fen


async def test_another_hospitals_administrator_cannot_refund(client, app, pay_city):
    pc = pay_city
    order, _ = await _paid_order(client, pc)
    other = await add_hospital(pc.rt, pc.city, "OTHER")
    staff = await add_staff(pc.rt, pc.city, "hospital_admin", hospital_id=other.id)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        console = Browser(c)
        await console.login(staff)
        root = f"/console/c/{pc.city.slug}/finance/fees"
        listed = await console.get(root + "?day=" + (utcnow() + timedelta(hours=8)).date().isoformat())
        assert order.id not in listed.text
        refused = await console.post(f"{root}/{order.id}/refund", {f"item:{order.items[0]['item_id']}": "1"})
        assert refused.status_code == 404
    assert all(not i.get("refund") for i in (await _order(pc, order.id)).items)


async def test_a_refund_wechat_pay_settles_later_is_recorded_by_its_notice(client, pay_city):
    from guahao.core.audit import SYSTEM
    from guahao.core.payments import fees

    pc = pay_city  # refunds stay PROCESSING until WeChat Pay's notice says how they ended
    order, _ = await _paid_order(client, pc)
    drug = order.items[0]
    with use_city(pc.city):
        async with pc.rt.db.transaction() as s:
            await fees.refund_items(s, order.id, [drug["item_id"]], actor=SYSTEM, reason="退药")
    await pc.run_topic("payment.refund")
    [pending] = [i for i in (await _order(pc, order.id)).items if i.get("refund")]
    assert pending["refund"]["status"] == "pending"
    body, headers = pc.fake.settle_refund(pc.merchant.mchid, f"{order.id}_N-RR1")
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "refunded"
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "duplicate"  # WeChat Pay retries
    after = await _order(pc, order.id)
    [done] = [i for i in after.items if i.get("refund")]
    assert done["refund"]["status"] == "refunded" and after.status == "paid"
    assert fees.refunded_fen(after) == drug["amount_fen"]
