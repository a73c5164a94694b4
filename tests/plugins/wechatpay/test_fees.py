"""In-clinic fee payment (诊间支付) through WeChat Pay: the member sees the charges the demo HIS
reports for a checked-in visit, pays the ticked ones by QR code, and the HIS is told; money
for items paid twice, or that the HIS refuses, goes back."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from guahao.core.models import Booking, BookingEvent, BookingStatus, FeeOrder, Member
from guahao.core.payments import fees
from guahao.core.plugins.manager import configure
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.booking.helpers import reserve
from tests.plugins.web.conftest import Visitor, csrf_of, id_number

ITEM = re.compile(r'name="(item:[^"]+)"')


async def _visited(client, pc, *, phone: str = "13800138000", his_first: bool = True) -> tuple[Visitor, Booking]:
    """A registered member whose booking (paid, pushed to the demo HIS unless the city enabled its
    HIS only after the booking: ``his_first=False``) has been checked in."""
    await configure(pc.rt, pc.city, "web")
    await configure(pc.rt, pc.city, "demo_his", enabled=his_first)
    visitor = Visitor(client, pc.city.slug)
    assert (await visitor.register(phone=phone)).status_code == 303
    with use_city(pc.city):
        async with pc.rt.db.transaction() as s:
            member_id = await s.scalar(select(Member.id).where(Member.phone == phone))
    period = pc.cat.periods[pc.cat.sessions[1].id][0]
    booking = await reserve(pc.rt, pc.city, member_id, period.id)
    await pc.start(booking)
    body, headers = pc.fake.pay(pc.merchant.mchid, f"{booking.id}_N")
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "confirmed"
    with use_city(pc.city):
        async with pc.rt.db.transaction() as s:
            await s.execute(update(Booking).where(Booking.id == booking.id).values(status=BookingStatus.checked_in))
    await pc.run_topic("his.push")  # the booking and its registration fee reach the HIS (if there is one)
    if not his_first:
        await configure(pc.rt, pc.city, "demo_his")
    return visitor, await pc.booking(booking.id)


async def _order(pc, ref: str) -> FeeOrder:
    with use_city(pc.city):
        async with pc.rt.db.transaction() as s:
            return await s.scalar(select(FeeOrder).where(FeeOrder.id == ref))


async def _choose(visitor: Visitor, page_text: str, hospital_id: int, fields: list[str]):
    return await visitor.client.post(visitor.root + "fees", data={
        "csrf": csrf_of(page_text), "hospital_id": str(hospital_id), **{f: "1" for f in fields}})


async def pay_all_fees(client, pc, visitor: Visitor, booking: Booking) -> str:
    """The member ticks every listed item, pays the order by QR code and WeChat Pay says so;
    the order's reference."""
    listed = await visitor.get("fees")
    ref = (await _choose(visitor, listed.text, booking.hospital_id, ITEM.findall(listed.text))).headers["location"]
    ref = ref.rsplit("/", 2)[-2]
    page = await visitor.get(f"fees/{ref}/pay")
    await visitor.client.post(visitor.root + f"fees/{ref}/pay", data={"csrf": csrf_of(page.text)})
    body, headers = pc.fake.pay(pc.merchant.mchid, f"{ref}_N")
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "confirmed"
    return ref


async def test_a_member_pays_clinic_fees_by_qr_code_and_the_hospital_takes_them(client, pay_city):
    pc = pay_city
    visitor, booking = await _visited(client, pc)
    listed = await visitor.get("fees")
    assert listed.status_code == 200 and "阿莫西林胶囊" in listed.text and "血常规" in listed.text
    fields = ITEM.findall(listed.text)
    assert len(fields) == 2
    chosen = await _choose(visitor, listed.text, booking.hospital_id, fields)
    assert chosen.status_code == 303
    ref = re.search(r"fees/(FP[0-9A-Z]{10})/pay$", chosen.headers["location"]).group(1)
    order = await _order(pc, ref)
    assert order.status == "pending" and order.booking_id == booking.id and len(order.items) == 2
    assert order.amount_fen == sum(i["amount_fen"] for i in order.items) > 0

    page = await visitor.get(f"fees/{ref}/pay")
    again = await _choose(visitor, listed.text, booking.hospital_id, fields)  # a double click: the same order
    assert again.headers["location"].endswith(f"fees/{ref}/pay")
    shown = await visitor.client.post(visitor.root + f"fees/{ref}/pay", data={"csrf": csrf_of(page.text)})
    assert shown.status_code == 200 and 'id="qr"' in shown.text and "<svg" in shown.text
    assert f"¥{order.amount_fen // 100}.{order.amount_fen % 100:02d}" in shown.text
    assert (await visitor.get(f"fees/{ref}/paid?poll=1")).status_code == 204
    wechat_order = pc.merchant.orders[f"{ref}_N"]
    assert wechat_order["request"]["amount"]["total"] == order.amount_fen
    assert wechat_order["request"]["description"].startswith("诊间缴费")

    body, headers = pc.fake.pay(pc.merchant.mchid, f"{ref}_N")
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "confirmed"
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "duplicate"  # WeChat Pay retries
    paid = await _order(pc, ref)
    assert paid.status == "paid" and paid.his_status == "pending" and paid.payment_ref == f"{ref}_N"
    assert (await visitor.get(f"fees/{ref}/paid?poll=1")).headers["HX-Redirect"].endswith(f"fees/{ref}/paid")

    await pc.run_topic("his.push")
    told = await _order(pc, ref)
    assert told.his_status == "accepted" and told.his_detail == f"DEMO-PAY-{ref}"
    landed = await visitor.get(f"fees/{ref}/paid")
    assert 'data-state="paid"' in landed.text and "医院已收到您的缴费" in landed.text
    after = await visitor.get("fees")
    assert "您目前没有待缴费用" in after.text and f'id="order-{ref}"' in after.text

    # Its receipt, beside the booking's registration fee receipt: a printable page and a PDF.
    listed = await visitor.get("receipts")
    assert f'id="receipt-{ref}-P1"' in listed.text and f'id="receipt-{booking.id}-P1"' in listed.text
    printable = await visitor.get(f"receipts/{ref}-P1")
    assert printable.status_code == 200 and "诊间缴费电子收据" in printable.text and "阿莫西林胶囊" in printable.text
    assert f"¥{told.amount_fen // 100}.{told.amount_fen % 100:02d}" in printable.text and "<script" not in printable.text
    pdf = await visitor.get(f"receipts/{ref}-P1.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert len(pdf.content) > 1000


async def test_another_member_cannot_see_or_pay_the_order(client, pay_city):
    pc = pay_city
    visitor, booking = await _visited(client, pc)
    listed = await visitor.get("fees")
    ref = (await _choose(visitor, listed.text, booking.hospital_id, ITEM.findall(listed.text))).headers["location"]
    ref = ref.rsplit("/", 2)[-2]
    client.cookies.clear()
    other = Visitor(client, pc.city.slug)
    assert (await other.register(phone="13900139000", number=id_number("11010519850307004"))).status_code == 303
    assert (await other.get(f"fees/{ref}/pay")).status_code == 404
    assert (await other.get(f"fees/{ref}/paid")).status_code == 404
    assert (await other.get(f"receipts/{ref}-P1")).status_code == 404
    assert "您还没有收据" in (await other.get("receipts")).text
    assert "您目前没有待缴费用" in (await other.get("fees")).text


async def test_choices_the_hospital_no_longer_lists_are_refused_with_a_sentence(client, pay_city):
    pc = pay_city
    visitor, booking = await _visited(client, pc)
    listed = await visitor.get("fees")
    none = await _choose(visitor, listed.text, booking.hospital_id, [])
    assert none.status_code == 409 and 'data-code="no_fee_items"' in none.text and "请至少勾选一项" in none.text
    gone = await _choose(visitor, listed.text, booking.hospital_id, ["item:DEMO-NOPE-F9"])
    assert gone.status_code == 409 and 'data-code="fee_items_changed"' in gone.text
    with use_city(pc.city):
        async with pc.rt.db.transaction() as s:
            assert (await s.scalars(select(FeeOrder))).all() == []


async def test_items_paid_by_two_orders_are_refunded_once(client, pay_city):
    pc = pay_city
    visitor, booking = await _visited(client, pc)
    listed = await visitor.get("fees")
    fields = ITEM.findall(listed.text)
    first = (await _choose(visitor, listed.text, booking.hospital_id, fields)).headers["location"].rsplit("/", 2)[-2]
    page = await visitor.get(f"fees/{first}/pay")
    await visitor.client.post(visitor.root + f"fees/{first}/pay", data={"csrf": csrf_of(page.text)})
    with use_city(pc.city):  # the member left the first order open past its time, then chose again
        async with pc.rt.db.transaction() as s:
            await s.execute(update(FeeOrder).where(FeeOrder.id == first).values(expires_at=utcnow() - timedelta(minutes=1)))
    second = (await _choose(visitor, listed.text, booking.hospital_id, fields)).headers["location"].rsplit("/", 2)[-2]
    assert second != first
    page = await visitor.get(f"fees/{second}/pay")
    await visitor.client.post(visitor.root + f"fees/{second}/pay", data={"csrf": csrf_of(page.text)})
    for ref in (first, second):  # both QR codes were scanned
        body, headers = pc.fake.pay(pc.merchant.mchid, f"{ref}_N")
        await pc.deliver(client, body, headers)
    kept, back = await _order(pc, first), await _order(pc, second)
    assert kept.status == "paid" and back.status == "refunding"
    [refund] = [m for m in await pc.outbox("payment.refund") if m.payload["booking_id"] == second]
    assert refund.payload["reason"] == "items_already_paid" and refund.payload["amount_fen"] == back.amount_fen
    await pc.run_topic("payment.refund")
    back = await _order(pc, second)
    assert back.refund_ref and back.status in ("refunding", "refunded")
    assert any(r["out_trade_no"] == f"{second}_N" for r in pc.merchant.refunds.values())
    assert (await _order(pc, first)).status == "paid"
    await pc.run_topic("payment.refund")  # run again: nothing more is asked of WeChat Pay
    assert sum(r["out_trade_no"] == f"{second}_N" for r in pc.merchant.refunds.values()) == 1


async def test_a_payment_the_his_refuses_goes_back_to_the_member(client, pay_city):
    pc = pay_city
    visitor, booking = await _visited(client, pc)
    with use_city(pc.city):
        async with pc.rt.db.transaction() as s:
            s.add(FeeOrder(id="FP2345678923", member_id=booking.member_id, hospital_id=booking.hospital_id,
                           booking_id=booking.id, item_key="OTHER-VISIT-F1", amount_fen=1200,
                           items=[{"item_id": "OTHER-VISIT-F1", "kind": "drug", "name": "维生素C片", "amount_fen": 1200}],
                           expires_at=utcnow() + timedelta(minutes=30)))
    page = await visitor.get("fees/FP2345678923/pay")
    await visitor.client.post(visitor.root + "fees/FP2345678923/pay", data={"csrf": csrf_of(page.text)})
    body, headers = pc.fake.pay(pc.merchant.mchid, "FP2345678923_N")
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "confirmed"
    await pc.run_topic("his.push")
    order = await _order(pc, "FP2345678923")
    assert order.his_status == "refused" and "收费项目不存在" in order.his_detail and order.status == "refunding"
    await pc.run_topic("payment.refund")
    [refund] = [r for r in pc.merchant.refunds.values() if r["out_trade_no"] == "FP2345678923_N"]
    shown = await visitor.get("fees/FP2345678923/paid")
    assert "医院未能接收此笔缴费" in shown.text
    assert (await _order(pc, "FP2345678923")).status == "refunding"  # WeChat Pay is still processing it
    body, headers = pc.fake.settle_refund(pc.merchant.mchid, refund["out_refund_no"])
    assert (await pc.deliver(client, body, headers)).json()["outcome"] == "refunded"
    assert (await _order(pc, "FP2345678923")).status == "refunded"


def test_fee_order_references_are_not_booking_references():
    ref = fees.refs.new_fee_ref()
    assert fees.is_fee_ref(ref) and not fees.is_fee_ref("7K4MQ-9XT2B") and not fees.is_fee_ref(ref.lower())


async def test_the_days_reconciliation_matches_fee_orders_with_wechat_pays_bill(client, pay_city):
    from datetime import datetime, timezone

    from guahao.core.payments.reconcile import service as reconcile

    pc = pay_city
    visitor, booking = await _visited(client, pc)
    ref = await pay_all_fees(client, pc, visitor, booking)
    order = await _order(pc, ref)
    today = datetime.now(timezone(timedelta(hours=8))).date()
    with use_city(pc.city):
        report = await reconcile.reconcile(pc.rt, "wechatpay", today)
    assert report.mismatches == [] and report.run.outcome == "ok"
    assert report.run.platform_paid_fen == report.run.provider_paid_fen == booking.fee_fen + order.amount_fen


async def test_fees_of_a_visit_booked_before_the_his_was_connected_still_reach_it(client, pay_city):
    pc = pay_city
    visitor, booking = await _visited(client, pc, his_first=False)
    with use_city(pc.city):
        async with pc.rt.db.transaction() as s:
            pushed = (await s.scalars(select(BookingEvent).where(
                BookingEvent.booking_id == booking.id, BookingEvent.kind == "his_pushed"))).all()
    assert pushed == []  # the HIS never heard of the booking itself
    ref = await pay_all_fees(client, pc, visitor, booking)
    await pc.run_topic("his.push")
    assert (await _order(pc, ref)).his_status == "accepted"
