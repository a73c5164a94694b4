"""Matching a provider's statement with the platform's records, line by line.

A payment line matches the platform's payment with the same reference (the booking's
``payment_ref``, the merchant's order number); a refund line the platform's refund with its
refund reference (the provider's refund id or the merchant's refund number), else one of the
same payment and amount, else one of the same payment. Each difference is one
:class:`Found`:

- ``missing_on_platform``: the provider moved money the platform has no record of (no booking
  at all, or a refund nobody recorded);
- ``missing_at_provider``: the platform recorded a payment (or a settled refund) of the day
  that the statement does not list;
- ``amount_differs``: both sides have it, with other amounts;
- ``status_differs``: both sides know it, in other states (paid at the provider, still unpaid
  on the booking; a refund settled at the provider and pending here; a payment the provider
  closed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from guahao.core.models import Booking
from guahao.core.plugins.interfaces import StatementLine

from .platform import Record

TOTALS = ("provider_paid_fen", "provider_refunded_fen", "platform_paid_fen", "platform_refunded_fen")


@dataclass(frozen=True)
class Found:
    """One mismatch, with both sides' values (``None``/``""`` where a side has nothing)."""

    kind: str
    line_kind: str
    booking_id: str
    hospital_id: int | None
    our_ref: str
    provider_ref: str
    provider_amount_fen: int | None
    platform_amount_fen: int | None
    provider_status: str
    platform_status: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What identifies it across re-runs of the day."""
        return (self.kind, self.line_kind, self.our_ref, self.provider_ref)


@dataclass
class Outcome:
    """What a matching found: the mismatches, the counts and the day's totals (in fen), for
    the city and per hospital."""

    found: list[Found] = field(default_factory=list)
    payments: int = 0
    refunds: int = 0
    totals: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOTALS, 0))
    hospitals: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, name: str, amount: int, hospital_id: int | None) -> None:
        self.totals[name] += amount
        if hospital_id is not None:
            per = self.hospitals.setdefault(str(hospital_id), dict.fromkeys(TOTALS, 0))
            per[name] += amount


def _both(line: StatementLine, record: Record) -> list[Found]:
    def found(kind: str) -> Found:
        return Found(kind, line.kind, record.booking_id, record.hospital_id, record.our_ref or line.our_ref,
                     line.provider_ref, line.amount_fen, record.amount_fen, line.status, record.status)

    out = []
    if line.amount_fen != record.amount_fen:
        out.append(found("amount_differs"))
    if line.status != record.status:
        out.append(found("status_differs"))
    return out


def _pick(records: list[Record], line: StatementLine) -> Record | None:
    open_ = [r for r in records if not r.matched and r.kind == line.kind]
    if line.kind == "payment":
        ref = line.our_ref
        hits = [r for r in open_ if ref and r.our_ref == ref] or [
            r for r in open_ if not ref and line.booking_id and r.booking_id == line.booking_id]
        return hits[0] if hits else None
    refs = {x for x in (line.provider_ref, line.refund_ref) if x}
    same_trade = [r for r in open_ if (line.our_ref and r.our_ref == line.our_ref)
                  or (not line.our_ref and line.booking_id and r.booking_id == line.booking_id)]
    for hits in ([r for r in open_ if r.refund_ref and r.refund_ref in refs],
                 [r for r in same_trade if r.amount_fen == line.amount_fen], same_trade):
        if hits:
            return hits[0]
    return None


def match(
    lines: Iterable[StatementLine], of_day: list[Record], others: list[Record], bookings: dict[str, Booking]
) -> Outcome:
    """Match the statement ``lines`` with the platform's records of the day (``of_day``) and,
    for lines of payments the platform recorded on another day, ``others``; ``bookings`` by id
    and by payment reference. Records are marked ``matched`` as they are used."""
    out = Outcome()
    pool = of_day + others
    for record in of_day:
        if record.kind == "payment":
            out.payments += 1
            out.add("platform_paid_fen", record.amount_fen, record.hospital_id)
        elif record.status == "refunded":
            out.refunds += 1
            out.add("platform_refunded_fen", record.amount_fen, record.hospital_id)
    for line in lines:
        booking = bookings.get(line.our_ref) or bookings.get(line.booking_id)
        hospital_id = booking.hospital_id if booking is not None else None
        if line.kind == "payment" and line.status == "paid":
            out.add("provider_paid_fen", line.amount_fen, hospital_id)
        elif line.kind == "refund" and line.status == "refunded":
            out.add("provider_refunded_fen", line.amount_fen, hospital_id)
        record = _pick(pool, line)
        if record is not None:
            record.matched = True
            out.found += _both(line, record)
            continue
        if line.kind == "payment" and line.status != "paid":
            continue  # a payment that never went through, unknown here: no money moved
        if line.kind == "payment" and booking is not None:
            out.found.append(Found("status_differs", "payment", booking.id, hospital_id, line.our_ref,
                                   line.provider_ref, line.amount_fen, booking.fee_fen, line.status,
                                   booking.payment_status))
            continue
        out.found.append(Found("missing_on_platform", line.kind, booking.id if booking is not None else line.booking_id,
                               hospital_id, line.our_ref, line.provider_ref or line.refund_ref, line.amount_fen, None,
                               line.status, ""))
    for record in of_day:
        if record.matched or (record.kind == "refund" and record.status != "refunded"):
            continue
        out.found.append(Found("missing_at_provider", record.kind, record.booking_id, record.hospital_id,
                               record.our_ref, record.refund_ref, None, record.amount_fen, "", record.status))
    return out
