"""The pricing engine on hand-computed cases: every expected figure below is worked out in the
comment next to it, not by the engine."""

from datetime import date
from decimal import Decimal

import pytest

from guahao.licensing.contracts.money import round_fen, yuan
from guahao.licensing.contracts.pricing import ProfitNotDeclared, price_period, tier_split
from guahao.licensing.contracts.spans import Version, in_force, split
from guahao.licensing.contracts.terms import parse_terms
from guahao.licensing.ledger.query import MeterTotal

NOV, DEC = date(2026, 11, 1), date(2026, 12, 1)  # 30 days
MAR, APR = date(2026, 3, 1), date(2026, 4, 1)  # 31 days


def v(n: int, model: str, since: date, **terms) -> Version:
    return Version(n, model, since, parse_terms(model, terms))


def t(meter: str, qty: int, first: int = 1, last: int = 1, value: str = "") -> MeterTotal:
    return MeterTotal(meter, qty, last - first + 1, first, last, f"h{first}", f"h{last}",
                      "channel" if value else "", value)


def usage(*totals: MeterTotal) -> dict:
    return {(x.meter, x.value): x for x in totals}


def price(start, end, versions, spans=None, month=None, profit=None, vat="6"):
    return price_period(start=start, end=end, versions=versions, span_usage=spans or {}, month_usage=month or {},
                        profit_fen=profit, vat_percent=vat)


def amounts(priced) -> list[tuple[str, int]]:
    return [(x.code, x.amount_fen) for x in priced.lines]


@pytest.mark.parametrize("exact, fen", [("2.5", 3), ("2.4999", 2), ("-2.5", -3), ("-2.4", -2), ("0.5", 1), ("7", 7)])
def test_one_rounding_rule_half_away_from_zero(exact, fen):
    assert round_fen(Decimal(exact)) == fen


def test_yuan_prints_fen_as_yuan():
    assert (yuan(123456789), yuan(-5), yuan(0)) == ("1,234,567.89", "-0.05", "0.00")


def test_spans_follow_the_versions_in_force():
    v1 = v(1, "revenue_share", date(2026, 10, 20), percent="8")
    v2 = v(2, "revenue_share", date(2026, 11, 16), percent="6")
    v3 = v(3, "revenue_share", date(2026, 11, 16), percent="5")  # same day: replaces version 2
    spans = split([v1, v2, v3], NOV, DEC)
    assert [(s.start, s.end, s.version.version, s.days) for s in spans] == [
        (NOV, date(2026, 11, 16), 1, 15), (date(2026, 11, 16), DEC, 3, 15)]
    assert in_force([v1, v2, v3], date(2026, 10, 19)) is None
    later = v(1, "rental", date(2026, 11, 10), licence_fen_per_year=1)
    assert [(s.start, s.days) for s in split([later], NOV, DEC)] == [(date(2026, 11, 10), 21)]  # days before: no contract


def test_revenue_share_percent_refunds_and_per_booking_with_vat():
    contract = [v(1, "revenue_share", date(2026, 1, 1), percent="8", per_booking_fen=50)]
    spans = {NOV: usage(t("fee.paid_fen", 1_234_567, 1, 300), t("fee.refunded_fen", 10_001, 301, 305),
                        t("booking.confirmed", 321, 306, 626))}
    p = price(NOV, DEC, contract, spans)
    # 8 % of 1,234,567 = 98,765.36 → 98,765; 8 % of 10,001 = 800.08 → -800; 321 × 50 = 16,050
    assert amounts(p) == [("revenue_share.fees", 98_765), ("revenue_share.refunds", -800),
                          ("revenue_share.per_booking", 16_050)]
    # 98,765 - 800 + 16,050 = 114,015; VAT 6 % = 6,840.9 → 6,841; total 120,856
    assert (p.subtotal_fen, p.vat_fen, p.total_fen) == (114_015, 6_841, 120_856)
    fees = p.lines[0]
    assert (fees.meter, fees.quantity, fees.rate, fees.ledger_rows, fees.first_seq, fees.last_seq) == (
        "fee.paid_fen", 1_234_567, "8%", 300, 1, 300)
    assert (fees.first_hash, fees.last_hash, fees.span_start, fees.span_end) == ("h1", "h300", NOV, DEC)


def test_graduated_tiers_count_the_month_across_an_amendment():
    v1 = v(1, "revenue_share", date(2026, 1, 1), per_booking_fen=50)
    v2 = v(2, "revenue_share", date(2026, 11, 16),
           tiers=[{"up_to": 100, "per_booking_fen": 40}, {"per_booking_fen": 30}])
    spans = {NOV: usage(t("booking.confirmed", 80, 1, 80)), date(2026, 11, 16): usage(t("booking.confirmed", 50, 81, 130))}
    p = price(NOV, DEC, [v1, v2], spans, vat="0")
    # span 1: 80 × 50 = 4,000; span 2 continues the month's count: bookings 81–100 at 40 (20 × 40 = 800),
    # 101–130 at 30 (30 × 30 = 900)
    assert amounts(p) == [("revenue_share.per_booking", 4_000), ("revenue_share.tier", 800), ("revenue_share.tier", 900)]
    assert [x.quantity for x in p.lines] == [80, 20, 30] and p.versions == (1, 2)
    assert "第 101–130 次" in p.lines[2].description
    assert tier_split(v2.terms, 0, 0) == []


def test_minimum_guarantee_tops_up_and_is_prorated_for_a_partial_month():
    full = [v(1, "revenue_share", date(2026, 1, 1), percent="10", minimum_fen=100_000)]
    p = price(NOV, DEC, full, {NOV: usage(t("fee.paid_fen", 500_000))}, vat="0")
    # 10 % of 500,000 = 50,000 < 100,000: top-up 50,000
    assert amounts(p) == [("revenue_share.fees", 50_000), ("minimum_topup", 50_000)]
    p = price(NOV, DEC, full, {NOV: usage(t("fee.paid_fen", 1_500_000))}, vat="0")
    assert amounts(p) == [("revenue_share.fees", 150_000)]  # above the minimum: no top-up
    late = [v(1, "revenue_share", date(2026, 11, 16), percent="10", minimum_fen=100_000)]
    p = price(NOV, DEC, late, {date(2026, 11, 16): usage(t("fee.paid_fen", 200_000))}, vat="0")
    # 15 of 30 days: minimum 50,000; share 20,000; top-up 30,000
    assert amounts(p) == [("revenue_share.fees", 20_000), ("minimum_topup", 30_000)]


def test_rental_monthly_partial_first_month_with_overage():
    contract = [v(1, "rental", date(2026, 3, 10), licence_fen_per_year=12_000_000, maintenance_fen_per_year=3_600_000,
                  included_bookings_per_month=1000, overage_booking_fen=20, included_sms_per_month=500,
                  overage_sms_fen=5, included_hospitals=3, overage_hospital_fen=10_000)]
    start = date(2026, 3, 10)
    spans = {start: usage(t("booking.confirmed", 800, 10, 809), t("notification.sent", 300, 810, 1109, "sms"))}
    month = usage(t("hospital.active", 5, 1, 5))
    p = price(MAR, APR, contract, spans, month)
    # 22 of 31 days. licence 12,000,000 / 12 × 22/31 = 709,677.42 → 709,677
    # maintenance 3,600,000 / 12 × 22/31 = 212,903.23 → 212,903
    # bookings allowance 1000 × 22/31 = 709.68 → 710; 800 - 710 = 90 over × 20 = 1,800
    # SMS allowance 500 × 22/31 = 354.84 → 355; 300 used: no line. Hospitals 5 - 3 = 2 × 10,000 = 20,000
    assert amounts(p) == [("rental.licence", 709_677), ("rental.maintenance", 212_903),
                          ("rental.overage.bookings", 1_800), ("rental.overage.hospitals", 20_000)]
    # subtotal 944,380; VAT 6 % = 56,662.8 → 56,663
    assert (p.subtotal_fen, p.vat_fen, p.total_fen) == (944_380, 56_663, 1_001_043)
    over = p.lines[2]
    assert (over.quantity, over.first_seq, over.last_seq, over.span_start) == (90, 10, 809, start)
    assert p.lines[3].span_start == start and p.lines[3].span_end == APR


def test_a_monthly_rental_amended_mid_month_is_split_by_days():
    v1 = v(1, "rental", date(2026, 1, 1), licence_fen_per_year=1_200_000, included_bookings_per_month=300,
           overage_booking_fen=10)
    v2 = v(2, "rental", date(2026, 11, 16), licence_fen_per_year=2_400_000, included_bookings_per_month=600,
           overage_booking_fen=5)
    spans = {NOV: usage(t("booking.confirmed", 170, 1, 170)), date(2026, 11, 16): usage(t("booking.confirmed", 320, 171, 490))}
    p = price(NOV, DEC, [v1, v2], spans, vat="0")
    # 1–15 Nov: 1,200,000 / 12 × 15/30 = 50,000; allowance 300 × 15/30 = 150, 170 made: 20 × 10 = 200
    # 16–30 Nov: 2,400,000 / 12 × 15/30 = 100,000; allowance 600 × 15/30 = 300, 320 made: 20 × 5 = 100
    assert amounts(p) == [("rental.licence", 50_000), ("rental.overage.bookings", 200), ("rental.licence", 100_000),
                          ("rental.overage.bookings", 100)]
    assert [x.contract_version for x in p.lines] == [1, 1, 2, 2] and p.subtotal_fen == 150_300


def test_rental_yearly_in_advance_with_a_mid_year_amendment_credited():
    v1 = v(1, "rental", date(2026, 3, 10), licence_fen_per_year=3_650_000, billing="yearly")
    # March 10 to December 31: 297 of 365 days → 3,650,000 × 297/365 = 2,970,000
    assert amounts(price(MAR, APR, [v1], vat="0")) == [("rental.licence", 2_970_000)]
    assert amounts(price(APR, date(2026, 5, 1), [v1], vat="0")) == []  # paid in advance
    jan = date(2027, 1, 1)
    assert amounts(price(jan, date(2027, 2, 1), [v1], vat="0")) == [("rental.licence", 3_650_000)]
    v2 = v(2, "rental", date(2027, 7, 1), licence_fen_per_year=7_300_000, billing="yearly")
    p = price(date(2027, 7, 1), date(2027, 8, 1), [v1, v2], vat="0")
    # July 1 to December 31: 184 days. Credit 3,650,000 × 184/365 = 1,840,000; new 7,300,000 × 184/365 = 3,680,000
    assert amounts(p) == [("rental.licence_credit", -1_840_000), ("rental.licence", 3_680_000)]
    assert p.lines[0].contract_version == 1 and p.lines[1].contract_version == 2


def test_a_yearly_rental_turned_into_a_revenue_share_mid_month_credits_the_rest():
    v1 = v(1, "rental", date(2026, 1, 1), maintenance_fen_per_year=365_000, billing="yearly")
    v2 = v(2, "revenue_share", date(2026, 11, 16), per_booking_fen=10)
    spans = {date(2026, 11, 16): usage(t("booking.confirmed", 7, 1, 7))}
    p = price(NOV, DEC, [v1, v2], spans, vat="0")
    # November 16 to December 31: 46 days → -365,000 × 46/365 = -46,000; 7 × 10 = 70
    assert amounts(p) == [("rental.maintenance_credit", -46_000), ("revenue_share.per_booking", 70)]
    assert p.versions == (1, 2)  # the credit names the version it credits


def test_profit_share_of_the_declared_profit():
    contract = [v(1, "profit_share", date(2026, 1, 1), percent="30", minimum_fen=200_000)]
    assert amounts(price(NOV, DEC, contract, profit=1_000_001, vat="0")) == [("profit_share", 300_000)]  # 300,000.3
    # a loss gives nothing, the minimum still holds
    assert amounts(price(NOV, DEC, contract, profit=-50_000, vat="0")) == [("profit_share", 0), ("minimum_topup", 200_000)]
    with pytest.raises(ProfitNotDeclared):
        price(NOV, DEC, contract)
    v2 = v(2, "profit_share", date(2026, 11, 21), percent="20")
    p = price(NOV, DEC, [contract[0], v2], profit=3_000_000, vat="0")
    # 20 days: 2,000,000 × 30 % = 600,000 (minimum 200,000 × 20/30 = 133,333 met); 10 days: 1,000,000 × 20 % = 200,000
    assert amounts(p) == [("profit_share", 600_000), ("profit_share", 200_000)]
    assert [x.quantity for x in p.lines] == [2_000_000, 1_000_000]


def test_no_contract_in_the_period_gives_no_lines():
    p = price(NOV, DEC, [v(1, "revenue_share", DEC, percent="5")])
    assert p.lines == () and p.total_fen == 0 and p.versions == ()
