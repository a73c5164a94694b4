"""The daily trade statement: Alipay's zip of GBK CSV files read into lines in fen."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime, timedelta, timezone

import pytest

from guahao.plugins.payments.alipay import bills
from guahao.tenants.context import use_city

from .test_payments import pay_and_confirm

BEIJING = timezone(timedelta(hours=8))


async def test_the_days_payments_and_refunds_come_back_from_the_statement(alipay_city, alipay_api):
    ac = alipay_city
    first, second = await ac.held_booking(1), await ac.held_booking(2)
    paid = await pay_and_confirm(ac, alipay_api, first)
    other = await pay_and_confirm(ac, alipay_api, second)
    with use_city(ac.city):
        plugins = await ac.rt.plugins.for_city(ac.city)
        provider = plugins.payment_provider("alipay")
        settings, secrets = plugins.settings("alipay"), plugins.secrets("alipay")
        await provider.refund(await ac.booking(second.id), 1250, settings, secrets)
        today = datetime.now(BEIJING).date()
        lines = await provider.statement(today, settings, secrets)
    payments = sorted((x for x in lines if x["kind"] == "payment"), key=lambda x: x["out_trade_no"])
    refunds = [x for x in lines if x["kind"] == "refund"]
    assert sorted(x["out_trade_no"] for x in payments) == sorted([paid.reference, other.reference])
    assert {x["booking_id"] for x in payments} == {first.id, second.id}
    assert all(x["amount_fen"] == 5000 and x["received_fen"] == 5000 and x["service_fee_fen"] == -30 for x in payments)
    assert all(x["trade_no"].isalnum() and "\t" not in x["trade_no"] for x in payments)
    [refund] = refunds
    assert (refund["out_trade_no"], refund["booking_id"], refund["amount_fen"], refund["received_fen"]) == (
        other.reference, second.id, 1250, -1250)
    assert refund["out_request_no"] == f"{other.reference}_R1250"
    assert all(x["subject"].startswith("挂号费 ") and "呼吸内科" in x["subject"] for x in payments)


async def test_no_statement_for_the_day_is_an_empty_list(alipay_city):
    ac = alipay_city
    ac.account.missing_bills.add("2026-01-02")
    with use_city(ac.city):
        plugins = await ac.rt.plugins.for_city(ac.city)
        provider = plugins.payment_provider("alipay")
        assert await provider.statement(date(2026, 1, 2), plugins.settings("alipay"), plugins.secrets("alipay")) == []
    assert ac.account.requests[-1] == ("alipay.data.dataservice.bill.downloadurl.query",
                                       {"bill_type": "trade", "bill_date": "2026-01-02"})


def test_a_statement_that_is_not_alipays_is_refused(alipay_api):
    with pytest.raises(bills.StatementUnreadable):
        bills.parse(b"not a zip")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "nothing")
    with pytest.raises(bills.StatementUnreadable):
        bills.parse(buf.getvalue())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("x.csv", "#comment\na,b,c\n1,2,3\n".encode("gbk"))
    with pytest.raises(bills.StatementUnreadable):
        bills.parse(buf.getvalue())
    account = alipay_api.add_account()
    assert bills.parse(alipay_api.statement_zip(account, "2026-01-01")) == []  # a day without trades


def test_signed_amounts():
    assert [bills.signed_fen(x) for x in ("50.00", "-12.5", "0.01", "", "-0.30")] == [5000, -1250, 1, 0, -30]
    with pytest.raises(bills.StatementUnreadable):
        bills.signed_fen("1,000.00")
