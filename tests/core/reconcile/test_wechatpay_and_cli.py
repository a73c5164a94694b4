"""The WeChat Pay and Alipay statement rows as statement lines, and a day reconciled from the
shell against the local fake WeChat Pay (its real client downloads and checks the trade bill)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from guahao.core import payments
from guahao.core.cli import main
from guahao.core.payments.reconcile.lines import to_lines
from guahao.plugins.payments.wechatpay import bill
from tests.plugins.wechatpay.conftest import pay_city, wechatpay_api  # noqa: F401  (fixtures)
from tests.plugins.wechatpay.test_refunds_and_bills import SAMPLE, paid_booking

CHINA = timezone(timedelta(hours=8))


def test_wechatpay_bill_rows_become_a_payment_and_a_refund():
    rows, _ = bill.parse_trade_bill(SAMPLE)
    paid, refund = to_lines(rows)
    assert (paid.kind, paid.status, paid.amount_fen, paid.our_ref, paid.provider_ref) == (
        "payment", "paid", 5000, "7K4MQ-9XT2B_N", "4200001234202612060123456789")
    assert paid.at == datetime(2026, 12, 6, 9, 15, 2, tzinfo=CHINA)
    assert (refund.kind, refund.status, refund.amount_fen, refund.provider_ref, refund.refund_ref) == (
        "refund", "refunded", 5000, "50300012342026120601234", "7K4MQ-9XT2B_N-R5000")


def test_alipay_statement_rows_become_lines_and_other_business_types_are_left_out():
    rows = [
        {"kind": "payment", "trade_no": "2026120622001", "out_trade_no": "c1-GH1", "out_request_no": "",
         "amount_fen": 5000, "finished_at": "2026-12-06 10:00:00", "booking_id": "GH1"},
        {"kind": "refund", "trade_no": "2026120622001", "out_trade_no": "c1-GH1", "out_request_no": "c1-GH1-R5000",
         "amount_fen": 5000, "finished_at": "2026-12-06 12:00:00", "booking_id": "GH1"},
        {"kind": "转账", "trade_no": "x", "out_trade_no": "y", "amount_fen": 1},
    ]
    paid, refund = to_lines(rows)
    assert (paid.kind, paid.status, paid.booking_id, paid.refund_ref) == ("payment", "paid", "GH1", "")
    assert (refund.kind, refund.status, refund.refund_ref, refund.amount_fen) == ("refund", "refunded", "c1-GH1-R5000", 5000)


async def test_a_wechatpay_day_reconciled_from_the_shell(pay_city, settings, monkeypatch, capsys):  # noqa: F811
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUAHAO_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("GUAHAO_DATA_KEY", settings.data_key)
    monkeypatch.delenv("DATABASE_APP_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    pc = pay_city
    pc.merchant.refund_status = "SUCCESS"
    kept, refunded = await paid_booking(pc, 0), await paid_booking(pc, 1)
    plugins = await pc.rt.plugins.for_city(pc.city)
    from guahao.tenants.context import use_city

    with use_city(pc.city):
        await payments.refund(pc.rt, plugins, {"booking_id": refunded.id, "payment_ref": refunded.payment_ref,
                                               "reason": "cancelled"})
    # Paid at WeChat Pay, its notification lost and nobody came back: the booking is still held.
    lost = await pc.held_booking(2)
    await pc.start(lost)
    lost = await pc.booking(lost.id)
    pc.fake.pay(pc.merchant.mchid, lost.payment_ref)
    day = datetime.now(CHINA).date().isoformat()

    code = await asyncio.to_thread(main, ["payments", "reconcile", pc.city.slug, "--date", day, "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    [run] = out["runs"]
    assert run["provider"] == "wechatpay" and run["outcome"] == "mismatches" and run["statement_lines"] == 4
    assert run["platform_paid_fen"] == kept.fee_fen + refunded.fee_fen
    assert run["provider_paid_fen"] == kept.fee_fen + refunded.fee_fen + lost.fee_fen
    assert run["provider_refunded_fen"] == run["platform_refunded_fen"] == refunded.fee_fen
    assert [(m["kind"], m["booking_id"], m["provider_status"], m["platform_status"]) for m in run["mismatches"]] == [
        ("status_differs", lost.id, "paid", "unpaid")]

    code = await asyncio.to_thread(main, ["payments", "reconcile", pc.city.slug, "--date", day])
    text = capsys.readouterr().out
    assert code == 0 and "wechatpay" in text and "1 mismatches" in text and lost.id in text

    assert await asyncio.to_thread(main, ["payments", "reconcile", pc.city.slug, "--date", "2026-02-30"]) == 1
    assert "not a date" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["payments", "reconcile", pc.city.slug, "--date", day,
                                          "--provider", "pay_at_hospital"]) == 1
    assert "没有对账单" in capsys.readouterr().err
    assert await asyncio.to_thread(main, ["payments", "reconcile", "nosuchcity", "--date", day]) == 1


async def test_a_hospital_on_its_own_merchant_account_has_its_statement_read_too(rt, pay_city, wechatpay_api):  # noqa: F811
    from guahao.core.audit import Actor
    from guahao.core.payments.reconcile import reconcile
    from guahao.core.plugins.hospital import configure_hospital_plugin
    from guahao.tenants.context import use_city

    pc = pay_city
    merchant = wechatpay_api.add_merchant()
    settings = {k: v for k, v in merchant.settings(wechatpay_api.url).items() if k != "api_base"}
    with use_city(pc.city):
        async with rt.db.transaction() as s:
            await configure_hospital_plugin(s, Actor("staff", 9, name="市管理员", role="city_admin"), pc.cat.hospital.id,
                                            "wechatpay", settings=settings, secrets=merchant.secrets(), host=rt.plugins)
    rt.plugins.invalidate(pc.city.id)
    booking = await pc.held_booking(0)
    await pc.start(booking)
    booking = await pc.booking(booking.id)
    assert booking.payment_ref in merchant.orders and not pc.merchant.orders
    wechatpay_api.pay(merchant.mchid, booking.payment_ref)
    assert await pc.check(booking) == "confirmed"
    with use_city(pc.city):
        report = await reconcile(rt, "wechatpay", datetime.now(CHINA).date())
    assert report.run.outcome == "ok" and report.mismatches == [] and report.run.statement_lines == 1
    assert report.run.provider_paid_fen == report.run.platform_paid_fen == booking.fee_fen
