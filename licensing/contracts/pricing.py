"""The pricing engine: pure functions from a period's contract versions, metered usage, declared
profit and VAT rate to invoice lines. No database, no clock: the same inputs give the same
lines, to the fen. The rules are written once in ``docs/licensing-contracts.md``; in short:

- the period (a calendar month of the city) is cut into spans, one per version in force
  (:mod:`.spans`); usage is taken per span, fixed fees and minimums are pro-rated by days;
- revenue share: ``percent`` of fees paid, minus the same percent of fees refunded; a fixed
  price per confirmed booking, or graduated tiers by the month's running booking count;
  a minimum guarantee topped up per span;
- rental: yearly fees billed monthly (a twelfth per full month, by days for a partial one)
  or yearly (in advance for the rest of the calendar year, a change mid-year credits the
  old fee's remainder); bookings and SMS over the pro-rated monthly allowance per span,
  active hospitals over the limit per month;
- profit share: ``percent`` of the declared monthly profit pro-rated by days (a loss: 0);
- every line rounded once by :func:`.money.round_fen`; VAT on the sum; prices are net of VAT.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ..ledger.query import MeterTotal
from .money import percent_text, round_fen, yuan
from .spans import Span, Version, previous, split
from .terms import ProfitShareTerms, RentalTerms, RevenueShareTerms

Usage = Mapping[tuple[str, str], MeterTotal]
"""Totals by ``(meter, dimension value)``; ``value`` is ``""`` for the meter's whole total."""

FEES_PAID, FEES_REFUNDED, BOOKINGS = ("fee.paid_fen", ""), ("fee.refunded_fen", ""), ("booking.confirmed", "")
SMS, HOSPITALS = ("notification.sent", "sms"), ("hospital.active", "")
USAGE_BY = {"notification.sent": "channel"}
"""The split :func:`guahao.licensing.ledger.query.period_totals` needs for pricing (SMS by channel)."""


@dataclass(frozen=True)
class Line:
    """One invoice line and where it came from."""

    code: str
    description: str
    description_en: str
    span_start: date
    span_end: date
    contract_version: int
    amount_fen: int
    quantity: int = 0
    unit: str = ""
    rate: str = ""
    meter: str = ""
    meter_value: str = ""
    ledger_rows: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    first_hash: str = ""
    last_hash: str = ""


@dataclass(frozen=True)
class Priced:
    """The lines of a period and their sums."""

    lines: tuple[Line, ...]
    subtotal_fen: int
    vat_percent: Decimal
    vat_fen: int
    total_fen: int
    versions: tuple[int, ...] = ()
    notes: tuple[str, ...] = field(default=())


class ProfitNotDeclared(LookupError):
    """A profit-share span needs the month's declared profit, and there is none."""


def usage_map(totals: Sequence[MeterTotal]) -> dict[tuple[str, str], MeterTotal]:
    """``period_totals`` rows keyed as :data:`Usage`."""
    return {(t.meter, t.value): t for t in totals}


def _refs(total: MeterTotal | None) -> dict:
    if total is None or not total.rows:
        return {}
    return {"meter_value": total.value, "ledger_rows": total.rows, "first_seq": total.first_seq,
            "last_seq": total.last_seq, "first_hash": total.first_hash, "last_hash": total.last_hash}


def _qty(usage: Usage, key: tuple[str, str]) -> int:
    t = usage.get(key)
    return t.quantity if t else 0


def _line(span: Span, code: str, zh: str, en: str, amount: int, **kw) -> Line:
    return Line(code, zh, en, span.start, span.end, span.version.version, amount, **kw)


def vat_of(subtotal_fen: int, vat_percent: Decimal | str) -> int:
    """VAT on a subtotal (prices are net of VAT)."""
    return round_fen(Decimal(subtotal_fen) * Decimal(str(vat_percent)) / 100)


# --- revenue share and profit share ---------------------------------------------------------


def tier_split(terms: RevenueShareTerms, offset: int, count: int) -> list[tuple[int, int, int, int]]:
    """Graduated tiers: bookings ``offset+1 … offset+count`` of the month as
    ``(first number, last number, count, price)`` per step they fall in."""
    out, lo = [], 0
    for tier in terms.tiers:
        hi = tier.up_to if tier.up_to is not None else offset + count
        first, last = max(lo + 1, offset + 1), min(hi, offset + count)
        if first <= last:
            out.append((first, last, last - first + 1, tier.per_booking_fen))
        lo = hi
    return out


def _revenue_share(span: Span, terms: RevenueShareTerms, usage: Usage, offset: int) -> list[Line]:
    lines: list[Line] = []
    if terms.percent is not None:
        rate, pct = percent_text(terms.percent), terms.percent
        paid = usage.get(FEES_PAID)
        lines.append(_line(span, "revenue_share.fees", f"挂号费分成 {rate}", f"Share of registration fees, {rate}",
                           round_fen(Decimal(_qty(usage, FEES_PAID)) * pct / 100), quantity=_qty(usage, FEES_PAID),
                           unit="分", rate=rate, meter="fee.paid_fen", **_refs(paid)))
        refunded = _qty(usage, FEES_REFUNDED)
        if refunded:
            lines.append(_line(span, "revenue_share.refunds", f"退费冲减 {rate}", f"Fees refunded, {rate}",
                               -round_fen(Decimal(refunded) * pct / 100), quantity=refunded, unit="分", rate=rate,
                               meter="fee.refunded_fen", **_refs(usage.get(FEES_REFUNDED))))
    count, refs = _qty(usage, BOOKINGS), _refs(usage.get(BOOKINGS))
    if terms.per_booking_fen is not None:
        price = terms.per_booking_fen
        lines.append(_line(span, "revenue_share.per_booking", f"按预约计费 {yuan(price)} 元/次",
                           f"Per confirmed booking, {yuan(price)} yuan", count * price, quantity=count, unit="次",
                           rate=str(price), meter="booking.confirmed", **refs))
    elif terms.tiers:
        steps = tier_split(terms, offset, count) or [(offset + 1, offset, 0, terms.tiers[0].per_booking_fen)]
        for first, last, n, price in steps:
            which, which_en = (f"本月第 {first}–{last} 次", f"bookings {first}–{last} of the month") if n else ("无预约", "none")
            lines.append(_line(span, "revenue_share.tier", f"阶梯计费 {which} {yuan(price)} 元/次",
                               f"Per booking, {which_en}, {yuan(price)} yuan",
                               n * price, quantity=n, unit="次", rate=str(price), meter="booking.confirmed", **refs))
    return lines


def _profit_share(span: Span, terms: ProfitShareTerms, month_days: int, profit_fen: int | None) -> list[Line]:
    if profit_fen is None:
        raise ProfitNotDeclared(f"no operating profit declared for the month of {span.start:%Y-%m}")
    part = Decimal(profit_fen) * span.days / month_days
    rate = percent_text(terms.percent)
    amount = round_fen(max(part, Decimal(0)) * terms.percent / 100)
    days = f"，{span.days}/{month_days} 天" if span.days != month_days else ""
    return [_line(span, "profit_share", f"运营利润分成 {rate}{days}", f"Share of operating profit, {rate}",
                  amount, quantity=round_fen(part), unit="分", rate=rate)]


def _minimum(span: Span, minimum_fen: int | None, month_days: int, share: int) -> list[Line]:
    if minimum_fen is None:
        return []
    guaranteed = round_fen(Decimal(minimum_fen) * span.days / month_days)
    if share >= guaranteed:
        return []
    days = f"，按 {span.days}/{month_days} 天" if span.days != month_days else ""
    return [_line(span, "minimum_topup", f"月保底补足（保底 {yuan(guaranteed)} 元{days}）",
                  f"Minimum guarantee top-up (minimum {yuan(guaranteed)} yuan)", guaranteed - share,
                  quantity=span.days, unit="天", rate=str(minimum_fen))]


# --- rental ---------------------------------------------------------------------------------

_FEES = (("licence", "licence_fen_per_year", "平台授权费", "Licence fee"),
         ("maintenance", "maintenance_fen_per_year", "系统维护费", "Maintenance fee"))


def _days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def _rest_of_year(day: date) -> int:
    return (date(day.year + 1, 1, 1) - day).days


def _rental_fees(span: Span, terms: RentalTerms, month_days: int) -> list[Line]:
    lines: list[Line] = []
    if terms.billing == "monthly":
        for key, attr, zh, en in _FEES:
            fee = getattr(terms, attr)
            if fee:
                amount = round_fen(Decimal(fee) * span.days / (12 * month_days))
                lines.append(_line(span, f"rental.{key}", f"{zh}（按月，{span.days}/{month_days} 天）",
                                   f"{en}, monthly ({span.days}/{month_days} days)", amount,
                                   quantity=span.days, unit="天", rate=f"{fee}/年"))
        return lines
    starts = span.start == span.version.effective_from or (span.start.month, span.start.day) == (1, 1)
    if not starts:
        return lines
    rest, year_days = _rest_of_year(span.start), _days_in_year(span.start.year)
    for key, attr, zh, en in _FEES:
        fee = getattr(terms, attr)
        if fee:
            lines.append(_line(span, f"rental.{key}", f"{zh}（{span.start.year} 年预付，{rest}/{year_days} 天）",
                               f"{en}, {span.start.year} in advance ({rest}/{year_days} days)",
                               round_fen(Decimal(fee) * rest / year_days), quantity=rest, unit="天", rate=f"{fee}/年"))
    return lines


def _yearly_credit(span: Span, before: Version | None) -> list[Line]:
    """The remainder of a yearly fee billed in advance, credited when a new version starts."""
    if (before is None or span.start != span.version.effective_from or (span.start.month, span.start.day) == (1, 1)
            or not isinstance(before.terms, RentalTerms) or before.terms.billing != "yearly"):
        return []
    rest, year_days = _rest_of_year(span.start), _days_in_year(span.start.year)
    out = []
    for key, attr, zh, en in _FEES:
        fee = getattr(before.terms, attr)
        if fee:
            out.append(Line(f"rental.{key}_credit", f"{zh}冲减（第 {before.version} 版预付余额，{rest}/{year_days} 天）",
                            f"{en} credit, version {before.version} prepaid remainder ({rest}/{year_days} days)",
                            span.start, span.end, before.version, -round_fen(Decimal(fee) * rest / year_days),
                            quantity=rest, unit="天", rate=f"{fee}/年"))
    return out


_OVERAGE = (("bookings", BOOKINGS, "included_bookings_per_month", "overage_booking_fen", "预约", "Bookings", "次"),
            ("sms", SMS, "included_sms_per_month", "overage_sms_fen", "短信", "SMS segments", "条"))


def _rental_overage(span: Span, terms: RentalTerms, usage: Usage, month_days: int) -> list[Line]:
    lines = []
    for key, meter, limit_attr, price_attr, zh, en, unit in _OVERAGE:
        limit = getattr(terms, limit_attr)
        if limit is None:
            continue
        allowance = round_fen(Decimal(limit) * span.days / month_days)
        over = _qty(usage, meter) - allowance
        if over > 0:
            price = getattr(terms, price_attr)
            lines.append(_line(span, f"rental.overage.{key}", f"超出包含{zh}量（包含 {allowance}，超出 {over}）",
                               f"{en} over the allowance ({allowance} included)", over * price, quantity=over,
                               unit=unit, rate=str(price), meter=meter[0], **_refs(usage.get(meter))))
    return lines


def _hospital_overage(spans: list[Span], month_usage: Usage) -> list[Line]:
    rental = [sp for sp in spans if isinstance(sp.version.terms, RentalTerms)]
    if not rental:
        return []
    last = rental[-1]
    terms = last.version.terms
    assert isinstance(terms, RentalTerms)
    if terms.included_hospitals is None:
        return []
    over = _qty(month_usage, HOSPITALS) - terms.included_hospitals
    if over <= 0:
        return []
    return [Line("rental.overage.hospitals", f"超出包含医院数（包含 {terms.included_hospitals} 家，超出 {over} 家）",
                 f"Active hospitals over the limit ({terms.included_hospitals} included)", rental[0].start, last.end,
                 last.version.version, over * terms.overage_hospital_fen, quantity=over, unit="家",
                 rate=str(terms.overage_hospital_fen), meter="hospital.active", **_refs(month_usage.get(HOSPITALS)))]


# --- the period -----------------------------------------------------------------------------


def price_period(
    *,
    start: date,
    end: date,
    versions: Sequence[Version],
    span_usage: Mapping[date, Usage],
    month_usage: Usage,
    profit_fen: int | None,
    vat_percent: Decimal | str,
) -> Priced:
    """The lines of the month ``[start, end)``.

    Parameters:
        versions: every contract version effective before ``end`` (see :func:`.spans.split`).
        span_usage: each span's totals, keyed by the span's first day.
        month_usage: the whole month's totals (active hospitals are counted per month).
        profit_fen: the declared operating profit of the month (profit share), or ``None``.
        vat_percent: the VAT rate in percent (``rt.settings.vat_percent``).

    Raises:
        ProfitNotDeclared: a profit-share span and no declared profit.
    """
    month_days = (end - start).days
    spans = split(versions, start, end)
    lines: list[Line] = []
    booked = 0  # the month's running booking count (tiers), from the first day under contract
    for span in spans:
        usage = span_usage.get(span.start, {})
        terms = span.version.terms
        lines += _yearly_credit(span, previous(versions, span))
        if isinstance(terms, RevenueShareTerms):
            share = _revenue_share(span, terms, usage, booked)
            lines += share + _minimum(span, terms.minimum_fen, month_days, sum(x.amount_fen for x in share))
        elif isinstance(terms, ProfitShareTerms):
            share = _profit_share(span, terms, month_days, profit_fen)
            lines += share + _minimum(span, terms.minimum_fen, month_days, sum(x.amount_fen for x in share))
        elif isinstance(terms, RentalTerms):
            lines += _rental_fees(span, terms, month_days) + _rental_overage(span, terms, usage, month_days)
        booked += _qty(usage, BOOKINGS)
    lines += _hospital_overage(spans, month_usage)
    subtotal = sum(x.amount_fen for x in lines)
    vat = vat_of(subtotal, vat_percent)
    return Priced(tuple(lines), subtotal, Decimal(str(vat_percent)), vat, subtotal + vat,
                  tuple(sorted({sp.version.version for sp in spans} | {x.contract_version for x in lines})))
