"""Refunds asked directly (partial, repeated) and the daily trade bill, against the fake."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from guahao.core.plugins.http import TransportError
from guahao.plugins.payments.wechatpay import bill
from guahao.tenants.context import use_city

CHINA = timezone(timedelta(hours=8))

SAMPLE = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注\r\n"
    "`2026-12-06 09:15:02,`wx2421b1c4370ec43b,`1900000109,`0,`,`4200001234202612060123456789,`7K4MQ-9XT2B_N,"
    "`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`SUCCESS,`OTHERS,`CNY,`50.00,`0.00,`0,`0,`0.00,`0.00,`,`,"
    "`挂号费 市第一医院 呼吸内科,`bj:7K4MQ-9XT2B,`0.30,`0.60%,`50.00,`0.00,`\r\n"
    "`2026-12-06 11:40:00,`wx2421b1c4370ec43b,`1900000109,`0,`,`4200001234202612060123456789,`7K4MQ-9XT2B_N,"
    "`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300012342026120601234,"
    "`7K4MQ-9XT2B_N-R5000,`50.00,`0.00,`ORIGINAL,`SUCCESS,`挂号费 市第一医院 呼吸内科,`bj:7K4MQ-9XT2B,`-0.30,`0.60%,"
    "`50.00,`50.00,`\r\n"
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n"
    "`2,`50.00,`50.00,`0.00,`0.00,`50.00,`50.00\r\n"
)


def test_a_trade_bill_in_wechat_pays_format_is_read_in_fen():
    rows, summary = bill.parse_trade_bill(SAMPLE)
    paid, refund = rows
    assert paid["out_trade_no"] == "7K4MQ-9XT2B_N" and paid["trade_state"] == "SUCCESS"
    assert (paid["settlement_total"], paid["total"], paid["fee"]) == (5000, 5000, 30)
    assert paid["trade_time"] == "2026-12-06 09:15:02" and paid["description"] == "挂号费 市第一医院 呼吸内科"
    assert (refund["trade_state"], refund["refund_amount"], refund["out_refund_no"], refund["fee"]) == (
        "REFUND", 5000, "7K4MQ-9XT2B_N-R5000", -30)
    assert summary == {"orders": 2, "settlement_total": 5000, "refund_total": 5000, "coupon_refund_total": 0,
                       "fee_total": 0, "total": 5000, "refund_requested_total": 5000}
    assert bill.parse_trade_bill(bill.format_trade_bill(rows))[0] == rows  # the fake writes what we read
    for broken in ("", "日期,金额\r\n`1,`2\r\n", SAMPLE.replace("`50.00,`0.00,`0,`0", "`5O.00,`0.00,`0,`0", 1)):
        with pytest.raises(bill.BadBill):
            bill.parse_trade_bill(broken)


async def _provider(pc):
    plugins = await pc.rt.plugins.for_city(pc.city)
    provider = plugins.payment_provider("wechatpay")
    return provider, *plugins.config_of(provider)


async def paid_booking(pc, index: int):
    booking = await pc.held_booking(index)
    await pc.start(booking)
    pc.fake.pay(pc.merchant.mchid, (await pc.booking(booking.id)).payment_ref)
    assert await pc.check(booking) == "confirmed"
    return await pc.booking(booking.id)


async def test_partial_refunds_and_a_repeated_refund(pay_city):
    pc = pay_city
    provider, settings, secrets = await _provider(pc)
    booking = await paid_booking(pc, 0)
    pc.merchant.refund_status = "SUCCESS"
    with use_city(pc.city):
        first = await provider.refund(booking, 2000, settings, secrets)
        again = await provider.refund(booking, 2000, settings, secrets)  # a retried job
        second = await provider.refund(booking, 2000, settings, secrets, key="drug-1")
        with pytest.raises(TransportError) as err:
            await provider.refund(booking, 2000, settings, secrets, key="drug-2")  # only 1000 left
        nothing = await provider.refund(booking, 0, settings, secrets)
    assert (first.status, first.amount_fen) == ("refunded", 2000) and first.reference == again.reference
    assert second.reference != first.reference
    assert err.value.code == "NOT_ENOUGH" and err.value.permanent
    assert nothing.status == "nothing_to_refund"
    assert sorted(r["out_refund_no"] for r in pc.merchant.refunds.values()) == [
        f"{booking.payment_ref}-R2000", f"{booking.payment_ref}-Rdrug-1"]


async def test_the_days_trade_bill(pay_city):
    pc = pay_city
    provider, settings, secrets = await _provider(pc)
    pc.merchant.refund_status = "SUCCESS"
    kept, refunded = await paid_booking(pc, 0), await paid_booking(pc, 1)
    with use_city(pc.city):
        await provider.refund(refunded, 5000, settings, secrets)
        today = datetime.now(CHINA).date()
        rows = await provider.statement(today, settings, secrets)
        assert await provider.statement(date(2020, 1, 1), settings, secrets) == []  # NO_STATEMENT_EXIST
    by_state = sorted((r["booking_id"], r["trade_state"], r["settlement_total"], r["refund_amount"]) for r in rows)
    assert by_state == sorted([(kept.id, "SUCCESS", 5000, 0), (refunded.id, "SUCCESS", 5000, 0),
                               (refunded.id, "REFUND", 0, 5000)])
    assert {r["out_trade_no"] for r in rows} == {kept.payment_ref, refunded.payment_ref}
    # A file changed on the way (its SHA1 is not the announced one) is not believed.
    pc.merchant.corrupt_bills = True
    with use_city(pc.city), pytest.raises(TransportError) as err:
        await provider.statement(today, settings, secrets)
    assert err.value.code == "bad_response" and "SHA1" in str(err.value)
