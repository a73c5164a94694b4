"""The monthly statement: read from the fake gateway for one day of the city, and files that
are not whole statements refused."""

from __future__ import annotations

from datetime import date, timedelta, timezone

import pytest

from guahao.core import payments
from guahao.core.payments.reconcile import reconcile
from guahao.plugins.payments.carrier import statement
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city

from .test_payments import pay, provider_and_config

BEIJING = timezone(timedelta(hours=8))
GOOD = (
    "# carrier statement cmcc gh-1 2026-12\n"
    "type,order_no,transaction_id,refund_no,phone,amount_fen,status,time\n"
    "charge,GH1C7K4MQ9XT2B,T01,,138****8000,5000,succeeded,2026-12-07T09:15:02+08:00\n"
    "refund,GH1C7K4MQ9XT2B,T01,GH1C7K4MQ9XT2BR1250,138****8000,1250,succeeded,2026-12-08T00:10:00+08:00\n"
    "# totals charges=1 charge_fen=5000 refunds=1 refund_fen=1250\n"
)


def test_a_statement_file_is_read_whole_or_not_at_all():
    rows = statement.parse(GOOD.encode())
    assert [(r["kind"], r["order_no"], r["refund_no"], r["amount_fen"]) for r in rows] == [
        ("payment", "GH1C7K4MQ9XT2B", "", 5000), ("refund", "GH1C7K4MQ9XT2B", "GH1C7K4MQ9XT2BR1250", 1250)]
    assert [r["order_no"] for r in statement.of_day(rows, date(2026, 12, 7), BEIJING)] == ["GH1C7K4MQ9XT2B"]
    assert [r["kind"] for r in statement.of_day(rows, date(2026, 12, 8), BEIJING)] == ["refund"]
    truncated = "\n".join(GOOD.splitlines()[:3]) + "\n"
    broken = [
        truncated.encode(),  # no totals line: a file cut short
        GOOD.replace("refund_fen=1250", "refund_fen=1251").encode(),  # rows do not add up
        GOOD.replace("amount_fen,status", "amount,status").encode(),  # another header
        GOOD.replace(",5000,", ",50.00,").encode(),  # yuan where fen belong
        GOOD.replace("2026-12-07T09:15:02+08:00", "2026-12-07T09:15:02").encode(),  # time without its offset
        GOOD.encode("utf-16"),
    ]
    for data in broken:
        with pytest.raises(statement.StatementUnreadable):
            statement.parse(data)


async def test_the_days_lines_come_from_the_months_statement(client, carrier_city):
    cc = carrier_city
    booking = await cc.held_booking(2)
    intent = await pay(cc, client, booking)
    provider, settings, secrets = await provider_and_config(cc)
    with use_city(cc.city):
        await provider.refund(await cc.booking(booking.id), 1250, settings, secrets)
        today = utcnow().astimezone(cc.city.tz).date()
        lines = await provider.statement(today, settings, secrets)
        tomorrow = await provider.statement(today + timedelta(days=1), settings, secrets)
        next_month = await provider.statement(today + timedelta(days=40), settings, secrets)
    mine = [line for line in lines if line.our_ref == intent.reference]
    assert [(line.kind, line.amount_fen, line.status, line.booking_id) for line in mine] == [
        ("payment", 5000, "paid", booking.id), ("refund", 1250, "refunded", booking.id)]
    assert mine[0].provider_ref == cc.account.orders[intent.reference]["transaction_id"]
    assert mine[1].provider_ref == mine[1].refund_ref == f"{intent.reference}R1250"
    assert provider.matching_id(await cc.booking(booking.id)) == intent.reference
    assert not [line for line in tomorrow if line.our_ref == intent.reference]
    assert next_month == []  # the carrier has no statement for a month not begun


async def test_reconciliation_matches_the_carriers_statement_and_finds_what_differs(client, carrier_city):
    cc = carrier_city
    matched, unknown_to_us = await cc.held_booking(), await cc.held_booking(1)
    await pay(cc, client, matched)
    other = await cc.start(unknown_to_us)
    cc.api.reply(cc.account, other.reference, "Y")  # charged, but the callback is lost and nobody asked yet
    stray = f"GH{cc.city.id}CZZZZZZZZZZ"  # a charge of no booking of ours (the carrier's error)
    cc.account.orders[stray] = {**cc.account.orders[other.reference], "order_no": stray, "transaction_id": "TSTRAY"}
    today = utcnow().astimezone(cc.city.tz).date()
    with use_city(cc.city):
        report = await reconcile(cc.rt, "carrier", today)
    assert report.run.outcome == "mismatches" and report.run.provider_paid_fen == 15000
    assert sorted((m.kind, m.line_kind, m.our_ref, m.provider_amount_fen, m.provider_status)
                  for m in report.mismatches) == [("missing_on_platform", "payment", stray, 5000, "paid"),
                                                   ("status_differs", "payment", other.reference, 5000, "paid")]
    first = await cc.booking(matched.id)
    cc.account.orders[first.payment_ref]["amount_fen"] = 4000  # the carrier's file disagrees on an amount
    with use_city(cc.city):
        differs = await reconcile(cc.rt, "carrier", today)
    assert {(m.kind, m.booking_id, m.provider_amount_fen, m.platform_amount_fen) for m in differs.mismatches} >= {
        ("amount_differs", matched.id, 4000, 5000)}
    cc.account.orders[first.payment_ref]["amount_fen"] = 5000
    with use_city(cc.city):  # the member came back: the carrier is asked and the booking confirmed
        assert await payments.check_payment(
            cc.rt, member_id=unknown_to_us.member_id, booking_id=unknown_to_us.id) == "confirmed"
        again = await reconcile(cc.rt, "carrier", today)
    assert [m.our_ref for m in again.mismatches] == [stray]  # only the carrier's own error is left
