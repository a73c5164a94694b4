"""A year of two cities, invoiced month by month, against figures worked out by hand.

City A shares revenue (免费共建，合作运营): 5 % of fees, graduated per-booking tiers and a
monthly minimum, amended on 16 July (4 %, other tiers, a higher minimum). City B rents the
platform (平台租赁，授权运营) from 10 March, billed monthly, with limits and overage.

The ledger is fed the way metering feeds it (``licensing.ledger.append.append`` with the
source ids of ``ledger.metering``), the invoice run drafts each month, each draft is
finalized on the first day of the next month, and every line and total must equal the
table below. The table's numbers are computed by hand (the working is in the comments);
nothing in it comes from the engine.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from guahao.core.audit import Actor
from guahao.licensing.contracts.service import set_contract
from guahao.licensing.invoices.queries import get_invoice, invoice_lines
from guahao.licensing.invoices.run import run_invoices
from guahao.licensing.invoices.states import finalize_invoice
from guahao.licensing.ledger.append import Usage, append
from guahao.licensing.ledger.models import UsageEvent
from guahao.licensing.ledger.verify import verify
from guahao.plugin_api import city_session
from tests.factories import make_city

VENDOR = Actor("vendor", 1, name="厂商财务")
TZ = ZoneInfo("Asia/Shanghai")
MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]

# --- the contracts --------------------------------------------------------------------------

A_V1 = {"percent": "5", "tiers": [{"up_to": 200, "per_booking_fen": 100}, {"per_booking_fen": 60}], "minimum_fen": 25_000}
A_V2 = {"percent": "4", "tiers": [{"up_to": 300, "per_booking_fen": 90}, {"per_booking_fen": 50}], "minimum_fen": 40_000}
B_V1 = {"licence_fen_per_year": 12_000_000, "maintenance_fen_per_year": 2_400_000, "billing": "monthly",
        "included_hospitals": 3, "overage_hospital_fen": 50_000, "included_bookings_per_month": 500,
        "overage_booking_fen": 30, "included_sms_per_month": 400, "overage_sms_fen": 6}

# --- the usage ------------------------------------------------------------------------------
# City A: (month, first day, end day (exclusive; None = the month's end), confirmed bookings,
#          {fee: bookings paid online}, {fee: those refunded})
A_USAGE = [
    ("2026-01", 1, None, 190, {500: 80, 1500: 100}, {500: 2, 1500: 1}),
    ("2026-02", 1, None, 90, {500: 60, 1500: 10}, {}),
    ("2026-03", 1, None, 260, {500: 160, 1500: 70}, {500: 3}),
    ("2026-04", 1, None, 200, {500: 120, 1500: 60, 1450: 3}, {1500: 2}),
    ("2026-05", 1, None, 201, {500: 130, 1500: 50}, {}),
    ("2026-06", 1, None, 180, {500: 100, 1500: 70}, {500: 1}),
    ("2026-07", 1, 16, 120, {500: 80, 1500: 30}, {}),
    ("2026-07", 16, None, 250, {500: 150, 1500: 60}, {1500: 1}),
    ("2026-08", 1, None, 320, {500: 200, 1500: 80, 1450: 1}, {}),
    ("2026-09", 1, None, 360, {500: 180, 1500: 170}, {500: 2, 1500: 1}),
    ("2026-10", 1, None, 400, {500: 200, 1500: 180, 1450: 5}, {500: 3}),
    ("2026-11", 1, None, 310, {500: 150, 1500: 160}, {}),
    ("2026-12", 1, None, 280, {500: 100, 1500: 170}, {1500: 2}),
]
# City B: (month, first day, end day, confirmed bookings, SMS segments, active hospitals).
# January, February and 1–9 March come before its contract and are never billed.
B_USAGE = [
    ("2026-01", 1, None, 300, 200, 3),
    ("2026-02", 1, None, 320, 210, 3),
    ("2026-03", 1, 10, 40, 30, 3),
    ("2026-03", 10, None, 380, 270, 3),  # the same three hospitals: already counted this month
    ("2026-04", 1, None, 480, 390, 3),
    ("2026-05", 1, None, 620, 400, 4),
    ("2026-06", 1, None, 500, 455, 3),
    ("2026-07", 1, None, 510, 300, 3),
    ("2026-08", 1, None, 450, 420, 5),
    ("2026-09", 1, None, 499, 399, 3),
    ("2026-10", 1, None, 530, 410, 3),
    ("2026-11", 1, None, 400, 350, 2),
    ("2026-12", 1, None, 505, 380, 3),
]

# --- the invoices, by hand ------------------------------------------------------------------
# (lines as (code, quantity, amount in fen), subtotal, VAT 6 %, total). Rounding: half up.
F, R, T, M = "revenue_share.fees", "revenue_share.refunds", "revenue_share.tier", "minimum_topup"
EXPECTED_A = {
    # fees 80×500 + 100×1500 = 190,000 × 5 % = 9,500; refunds 2×500 + 1500 = 2,500 × 5 % = 125;
    # 190 bookings ≤ 200: 190 × 100 = 19,000; 28,375 ≥ 25,000; VAT 1,702.5 → 1,703
    "2026-01": ([(F, 190_000, 9_500), (R, 2_500, -125), (T, 190, 19_000)], 28_375, 1_703, 30_078),
    # fees 60×500 + 10×1500 = 45,000 × 5 % = 2,250; 90 × 100 = 9,000; 11,250 < 25,000: top-up 13,750
    "2026-02": ([(F, 45_000, 2_250), (T, 90, 9_000), (M, 28, 13_750)], 25_000, 1_500, 26_500),
    # tier crossed: fees 160×500 + 70×1500 = 185,000 × 5 % = 9,250; refunds 1,500 × 5 % = 75;
    # 1–200 × 100 = 20,000, 201–260: 60 × 60 = 3,600; 32,775; VAT 1,966.5 → 1,967
    "2026-03": ([(F, 185_000, 9_250), (R, 1_500, -75), (T, 200, 20_000), (T, 60, 3_600)], 32_775, 1_967, 34_742),
    # fees 60,000 + 90,000 + 3×1,450 = 154,350 × 5 % = 7,717.5 → 7,718; refunds 3,000 × 5 % = 150;
    # exactly 200 bookings: one step; 27,568; VAT 1,654.08 → 1,654
    "2026-04": ([(F, 154_350, 7_718), (R, 3_000, -150), (T, 200, 20_000)], 27_568, 1_654, 29_222),
    # fees 65,000 + 75,000 = 140,000 × 5 % = 7,000; 200 × 100 + 1 × 60; 27,060; VAT 1,623.6 → 1,624
    "2026-05": ([(F, 140_000, 7_000), (T, 200, 20_000), (T, 1, 60)], 27_060, 1_624, 28_684),
    # fees 50,000 + 105,000 = 155,000 × 5 % = 7,750; refunds 25; 180 × 100; 25,725; VAT 1,543.5 → 1,544
    "2026-06": ([(F, 155_000, 7_750), (R, 500, -25), (T, 180, 18_000)], 25_725, 1_544, 27_269),
    # amended on the 16th. 1–15 July (v1): fees 40,000 + 45,000 = 85,000 × 5 % = 4,250; 120 × 100 = 12,000;
    #   16,250 ≥ minimum 25,000 × 15/31 = 12,097. 16–31 July (v2): fees 75,000 + 90,000 = 165,000 × 4 % = 6,600;
    #   refunds 1,500 × 4 % = 60; the month's bookings 121–300 at 90 (180 × 90 = 16,200), 301–370 at 50
    #   (70 × 50 = 3,500); 26,240 ≥ 40,000 × 16/31 = 20,645. Subtotal 42,490; VAT 2,549.4 → 2,549
    "2026-07": ([(F, 85_000, 4_250), (T, 120, 12_000), (F, 165_000, 6_600), (R, 1_500, -60), (T, 180, 16_200),
                 (T, 70, 3_500)], 42_490, 2_549, 45_039),
    # fees 100,000 + 120,000 + 1,450 = 221,450 × 4 % = 8,858; 300 × 90 + 20 × 50 = 28,000;
    # 36,858 < 40,000: top-up 3,142
    "2026-08": ([(F, 221_450, 8_858), (T, 300, 27_000), (T, 20, 1_000), (M, 31, 3_142)], 40_000, 2_400, 42_400),
    # fees 90,000 + 255,000 = 345,000 × 4 % = 13,800; refunds 2,500 × 4 % = 100; 27,000 + 60 × 50 = 3,000
    "2026-09": ([(F, 345_000, 13_800), (R, 2_500, -100), (T, 300, 27_000), (T, 60, 3_000)], 43_700, 2_622, 46_322),
    # fees 100,000 + 270,000 + 7,250 = 377,250 × 4 % = 15,090; refunds 1,500 × 4 % = 60;
    # 27,000 + 100 × 50 = 5,000; 47,030; VAT 2,821.8 → 2,822
    "2026-10": ([(F, 377_250, 15_090), (R, 1_500, -60), (T, 300, 27_000), (T, 100, 5_000)], 47_030, 2_822, 49_852),
    # fees 75,000 + 240,000 = 315,000 × 4 % = 12,600; 27,000 + 10 × 50 = 500; 40,100 ≥ 40,000
    "2026-11": ([(F, 315_000, 12_600), (T, 300, 27_000), (T, 10, 500)], 40_100, 2_406, 42_506),
    # fees 50,000 + 255,000 = 305,000 × 4 % = 12,200; refunds 3,000 × 4 % = 120; 280 × 90 = 25,200;
    # 37,280 < 40,000: top-up 2,720
    "2026-12": ([(F, 305_000, 12_200), (R, 3_000, -120), (T, 280, 25_200), (M, 31, 2_720)], 40_000, 2_400, 42_400),
}
A_YEAR = 445_014  # 30,078 + 26,500 + 34,742 + 29,222 + 28,684 + 27,269 + 45,039 + 42,400 + 46,322 + 49,852 + 42,506 + 42,400

LIC, MNT = "rental.licence", "rental.maintenance"
OB, OS, OH = "rental.overage.bookings", "rental.overage.sms", "rental.overage.hospitals"


def _full(days: int, *over: tuple) -> list:
    """A full month: a twelfth of 12,000,000 and of 2,400,000 whatever its length."""
    return [(LIC, days, 1_000_000), (MNT, days, 200_000), *over]


EXPECTED_B = {
    # 10–31 March, 22 of 31 days: 1,000,000 × 22/31 = 709,677.42 → 709,677; 200,000 × 22/31 = 141,935.48 → 141,935;
    # bookings allowed 500 × 22/31 = 354.8 → 355, 380 made: 25 × 30 = 750; SMS allowed 284, 270 sent;
    # subtotal 852,362; VAT 51,141.72 → 51,142
    "2026-03": ([(LIC, 22, 709_677), (MNT, 22, 141_935), (OB, 25, 750)], 852_362, 51_142, 903_504),
    "2026-04": (_full(30), 1_200_000, 72_000, 1_272_000),
    # 620 - 500 = 120 × 30 = 3,600; 400 SMS is the limit; 4 - 3 hospitals = 1 × 50,000; VAT 75,216
    "2026-05": (_full(31, (OB, 120, 3_600), (OH, 1, 50_000)), 1_253_600, 75_216, 1_328_816),
    # SMS 455 - 400 = 55 × 6 = 330; VAT 72,019.8 → 72,020
    "2026-06": (_full(30, (OS, 55, 330)), 1_200_330, 72_020, 1_272_350),
    "2026-07": (_full(31, (OB, 10, 300)), 1_200_300, 72_018, 1_272_318),
    # SMS 20 × 6 = 120; hospitals 2 × 50,000; VAT 78,007.2 → 78,007
    "2026-08": (_full(31, (OS, 20, 120), (OH, 2, 100_000)), 1_300_120, 78_007, 1_378_127),
    "2026-09": (_full(30), 1_200_000, 72_000, 1_272_000),
    # 30 × 30 = 900; 10 × 6 = 60; VAT 72,057.6 → 72,058
    "2026-10": (_full(31, (OB, 30, 900), (OS, 10, 60)), 1_200_960, 72_058, 1_273_018),
    "2026-11": (_full(30), 1_200_000, 72_000, 1_272_000),
    "2026-12": (_full(31, (OB, 5, 150)), 1_200_150, 72_009, 1_272_159),
}
B_YEAR = 12_516_292  # 903,504 + 1,272,000 + 1,328,816 + 1,272,350 + 1,272,318 + 1,378,127 + 1,272,000 × 3 + 1,273,018 + 1,272,159


# --- feeding the ledger ---------------------------------------------------------------------


def _days(period: str, first: int, end: int | None) -> list[date]:
    y, m = map(int, period.split("-"))
    start = date(y, m, first)
    stop = date(y, m, end) if end else date(y + m // 12, m % 12 + 1, 1)
    return [start + timedelta(days=i) for i in range((stop - start).days)]


def _moments(days: list[date], n: int) -> list[datetime]:
    """``n`` moments spread over ``days`` (local time), the first at 00:10 of the first day
    and the last at 23:50 of the last: the span's edges in the city's time zone."""
    out = []
    for k in range(n):
        if k == 0:
            day, at = days[0], time(0, 10)
        elif k == n - 1:
            day, at = days[-1], time(23, 50)
        else:
            day = days[k * len(days) // n]
            minutes = 8 * 60 + (k * 7) % 720
            at = time(minutes // 60, minutes % 60)
        out.append(datetime.combine(day, at, tzinfo=TZ).astimezone(UTC))
    return out


class Feeder:
    """Usage as metering records it, with ids that keep growing like the platform's."""

    def __init__(self, prefix: int):
        self.booking = prefix * 1_000_000
        self.message = prefix * 1_000_000

    def bookings(self, period, first, end, n, paid=None, refunded=None, hospitals=1) -> list[Usage]:
        out, fees = [], [fee for fee, count in sorted((paid or {}).items()) for _ in range(count)]
        refunds = dict(refunded or {})
        for k, at in enumerate(_moments(_days(period, first, end), n)):
            self.booking += 1
            b = self.booking
            hospital = 101 + k % hospitals
            out.append(Usage("booking.confirmed", 1, f"booking.confirmed:{b}", at,
                             {"channel": ("web", "wechat", "phone")[k % 3], "registration_type": "expert"}))
            out.append(Usage("hospital.active", 1, f"hospital.active:{hospital}:{period}", at, {"hospital": str(hospital)}))
            if k < len(fees):
                fee = fees[k]
                out.append(Usage("fee.paid_fen", fee, f"fee.paid_fen:{b}:pi_{b}", at + timedelta(minutes=1),
                                 {"provider": "stripe"}))
                if refunds.get(fee):
                    refunds[fee] -= 1
                    out.append(Usage("fee.refunded_fen", fee, f"fee.refunded_fen:{b}:re_{b}", at + timedelta(minutes=5),
                                     {"provider": "stripe"}))
                    out.append(Usage("booking.cancelled", 1, f"booking.cancelled:{b}", at + timedelta(minutes=4),
                                     {"channel": "web", "registration_type": "expert", "reason": "patient"}))
        assert not any(refunds.values()), "more refunds than paid bookings in the plan"
        return out

    def messages(self, period, first, end, segments: int, wechat: int = 25) -> list[Usage]:
        doubles = segments // 20
        sizes = [2] * doubles + [1] * (segments - 2 * doubles)
        out = []
        for size, at in zip(sizes, _moments(_days(period, first, end), len(sizes)), strict=True):
            self.message += 1
            out.append(Usage("notification.sent", size, f"notification.sent:{self.message}", at,
                             {"channel": "sms", "kind": "booking_confirmed"}))
        for at in _moments(_days(period, first, end), wechat):
            self.message += 1
            out.append(Usage("notification.sent", 1, f"notification.sent:{self.message}", at,
                             {"channel": "wechat", "kind": "reminder"}))
        return out


async def _check_ledger_references(s, invoice_id: int, tz) -> int:
    """Every metered line names the first and last ledger row of its meter in its days."""
    checked = 0
    for line in await invoice_lines(s, invoice_id):
        if not line.meter:
            continue
        lo = datetime.combine(line.span_start, time.min, tzinfo=tz).astimezone(UTC)
        hi = datetime.combine(line.span_end, time.min, tzinfo=tz).astimezone(UTC)
        where = [UsageEvent.meter == line.meter, UsageEvent.occurred_at >= lo, UsageEvent.occurred_at < hi]
        if line.meter_value:
            where.append(UsageEvent.dimensions["channel"].as_string() == line.meter_value)
        first, last, rows = (await s.execute(select(func.min(UsageEvent.seq), func.max(UsageEvent.seq), func.count())
                                             .where(*where))).one()
        hashes = dict((await s.execute(select(UsageEvent.seq, UsageEvent.hash)
                                       .where(UsageEvent.seq.in_((first, last))))).all())
        assert (line.first_seq, line.last_seq, line.ledger_rows) == (first, last, rows), line.code
        assert (line.first_hash, line.last_hash) == (hashes[first], hashes[last]), line.code
        checked += 1
    return checked


async def test_a_year_of_two_cities_invoices_to_the_fen(rt):
    a = await make_city(rt, "year-a-" + datetime.now().strftime("%H%M%S%f"))
    b = await make_city(rt, "year-b-" + datetime.now().strftime("%H%M%S%f"))
    feed_a, feed_b = Feeder(1), Feeder(2)
    async with city_session(rt, a) as s:
        await set_contract(s, VENDOR, model="revenue_share", effective_from=date(2026, 1, 1), terms=A_V1,
                           buyer={"name": "甲市健康服务有限公司"}, note="合作运营协议")
    async with city_session(rt, b) as s:
        await set_contract(s, VENDOR, model="rental", effective_from=date(2026, 3, 10), terms=B_V1,
                           buyer={"name": "乙市卫健信息中心"}, note="平台租赁合同")

    got: dict[tuple[str, str], tuple] = {}
    numbers: list[str] = []
    ids: dict[tuple[str, str], int] = {}
    checked = 0
    for period in MONTHS:
        if period == "2026-07":  # the amendment, agreed before July is invoiced
            async with city_session(rt, a) as s:
                await set_contract(s, VENDOR, model="revenue_share", effective_from=date(2026, 7, 16), terms=A_V2,
                                   note="补充协议：新阶梯与保底")
        rows = [u for (p, first, end, n, paid, refunded) in A_USAGE if p == period
                for u in feed_a.bookings(p, first, end, n, paid, refunded, hospitals=2)
                + feed_a.messages(p, first, end, n // 4)]
        async with city_session(rt, a) as s:
            assert await append(s, rows) == len({u.source_id for u in rows})  # a hospital counts once a month
        rows = [u for (p, first, end, n, sms, hospitals) in B_USAGE if p == period
                for u in feed_b.bookings(p, first, end, n, hospitals=hospitals) + feed_b.messages(p, first, end, sms)]
        async with city_session(rt, b) as s:
            await append(s, rows)
            await append(s, rows[:50])  # a replayed batch counts nothing

        y, m = map(int, period.split("-"))
        issued = date(y + m // 12, m % 12 + 1, 1)
        for name, city in (("A", a), ("B", b)):
            [outcome] = await run_invoices(rt, period, city=city.slug, actor=VENDOR)
            if name == "B" and period < "2026-03":
                assert outcome.outcome == "skipped" and "no contract" in outcome.reason
                continue
            assert outcome.outcome == "drafted", (name, period, outcome)
            async with city_session(rt, city) as s:
                inv = await finalize_invoice(s, outcome.invoice_id, VENDOR, issued_on=issued)
                lines = await invoice_lines(s, inv.id)
                checked += await _check_ledger_references(s, inv.id, city.tz)
            numbers.append(inv.number)
            ids[(name, period)] = inv.id
            got[(name, period)] = ([(x.code, x.quantity, x.amount_fen) for x in lines], inv.subtotal_fen, inv.vat_fen,
                                   inv.total_fen)

    for period, expected in EXPECTED_A.items():
        assert got[("A", period)] == expected, f"city A {period}"
    for period, expected in EXPECTED_B.items():
        assert got[("B", period)] == expected, f"city B {period}"
    assert set(got) == {("A", p) for p in EXPECTED_A} | {("B", p) for p in EXPECTED_B}
    assert sum(got[("A", p)][3] for p in MONTHS) == A_YEAR
    assert sum(got[("B", p)][3] for p in EXPECTED_B) == B_YEAR
    assert checked > 40

    # Numbers: 2026's run on without a gap; December's invoices open 2027's series.
    by_year: dict[str, list[int]] = {}
    for number in numbers:
        _, year, n = number.split("-")
        by_year.setdefault(year, []).append(int(n))
    for year, ns in by_year.items():
        assert ns == list(range(ns[0], ns[0] + len(ns))), year
    assert len(by_year["2026"]) == 20 and len(by_year["2027"]) == 2

    async with city_session(rt, a) as s:
        july = await get_invoice(s, ids[("A", "2026-07")])
        assert july.contract_versions == [1, 2] and july.buyer == {"name": "甲市健康服务有限公司"}
        assert (await verify(s)).ok
    async with city_session(rt, b) as s:
        assert (await verify(s)).ok
