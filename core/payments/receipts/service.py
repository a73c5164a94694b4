"""A member's receipts, read from the booking events and the fee orders, and the printable page
and PDF of one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select

from guahao.core.booking.views import booking_views
from guahao.core.errors import NotFound
from guahao.core.models import Booking, BookingEvent, FeeOrder, Hospital, Member
from guahao.tenants.context import require_city

from ..fees.refs import is_fee_ref
from ..reconcile.platform import PAYMENT_KINDS, REFUND_KINDS, records_of

STATUS_TEXT = {"paid": "已支付 Paid", "refunded": "已退款 Refunded", "pending": "退款处理中 Refund in progress",
               "failed": "退款失败 Refund failed"}


@dataclass(frozen=True)
class Receipt:
    """One payment or refund of a member's booking, as its receipt shows it.

    ``number`` is stable (``<booking>-P1`` for the payment, ``<booking>-R1``, ``-R2`` … for its
    refunds in order); amounts are integer fen; ``at`` is when it happened (UTC)."""

    number: str
    kind: str  # payment | refund
    booking_id: str
    amount_fen: int
    status: str
    provider: str
    provider_name: str
    reference: str
    at: datetime
    patient_name: str
    hospital_name: str
    department_name: str
    doctor_name: str
    visit_date: date
    visit_time: str
    subject: str = "registration"  # registration (a booking's fee) | fees (an in-clinic fee order)
    items: tuple[dict, ...] = ()  # a fee order's items: name, quantity, amount_fen

    @property
    def status_text(self) -> str:
        return STATUS_TEXT.get(self.status, self.status)


async def member_receipts(rt, *, member_id: int, booking_id: str | None = None) -> list[Receipt]:
    """Every payment and refund of the member's bookings and in-clinic fee orders (of one
    booking or order with ``booking_id``), newest first. Another member's have none."""
    city = require_city()
    plugins = await rt.plugins.for_city(city)
    if booking_id is None or is_fee_ref(booking_id):
        fee_receipts = await _fee_receipts(rt, plugins, member_id=member_id, order_id=booking_id)
        if booking_id is not None:
            return fee_receipts
    else:
        fee_receipts = []
    async with rt.db.transaction() as s:
        q = select(Booking).where(Booking.member_id == member_id)
        if booking_id is not None:
            q = q.where(Booking.id == booking_id)
        bookings = {b.id: b for b in (await s.scalars(q)).all()}
        if not bookings:
            return fee_receipts
        events = list((await s.scalars(select(BookingEvent).where(
            BookingEvent.booking_id.in_(bookings), BookingEvent.kind.in_(PAYMENT_KINDS + REFUND_KINDS)))).all())
        views = {v.id: v for v in await booking_views(s, list(bookings.values()))}
        member = await s.get(Member, member_id)
    patient = member.name if member is not None else ""
    out: list[Receipt] = []
    for provider in sorted({str((e.data or {}).get("provider") or "") for e in events}):
        found = plugins.payment_provider(provider)
        name = found.verbose_name if found is not None and found.verbose_name else provider
        counters: dict[tuple[str, str], int] = {}
        for r in records_of(events, bookings, provider):
            key = (r.booking_id, r.kind)
            counters[key] = counters.get(key, 0) + 1
            v = views[r.booking_id]
            out.append(Receipt(
                number=f"{r.booking_id}-{'P' if r.kind == 'payment' else 'R'}{counters[key]}", kind=r.kind,
                booking_id=r.booking_id, amount_fen=r.amount_fen, status=r.status, provider=provider,
                provider_name=name, reference=r.refund_ref or r.our_ref if r.kind == "refund" else r.our_ref,
                at=r.at, patient_name=patient, hospital_name=v.hospital_name, department_name=v.department_name,
                doctor_name=v.doctor_name, visit_date=v.date, visit_time=f"{v.start}–{v.end}",
            ))
    return sorted(out + fee_receipts, key=lambda r: r.at, reverse=True)


async def _fee_receipts(rt, plugins, *, member_id: int, order_id: str | None) -> list[Receipt]:
    """The payment (``<order>-P1``) and the refund (``<order>-R1``) of the member's fee orders."""
    city = require_city()
    async with rt.db.transaction() as s:
        q = select(FeeOrder).where(FeeOrder.member_id == member_id, FeeOrder.status.in_(("paid", "refunding", "refunded")))
        if order_id is not None:
            q = q.where(FeeOrder.id == order_id)
        orders = (await s.scalars(q)).all()
        if not orders:
            return []
        names = dict((await s.execute(select(Hospital.id, Hospital.name).where(
            Hospital.id.in_({o.hospital_id for o in orders})))).all())
        member = await s.get(Member, member_id)
    out = []
    for o in orders:
        departments = dict.fromkeys(str(i.get("department") or "") for i in o.items if i.get("department"))
        found = plugins.payment_provider(o.provider)
        provider_name = found.verbose_name if found is not None and found.verbose_name else o.provider
        paid_at = o.paid_at or o.updated_at
        common = dict(booking_id=o.id, amount_fen=o.amount_fen, provider=o.provider, provider_name=provider_name,
                      patient_name=member.name if member is not None else "", hospital_name=names.get(o.hospital_id, ""),
                      department_name="、".join(departments),
                      doctor_name="", visit_date=paid_at.astimezone(city.tz).date(), visit_time="", subject="fees",
                      items=tuple({"name": i.get("name", ""), "quantity": i.get("quantity", ""),
                                   "amount_fen": int(i.get("amount_fen") or 0)} for i in o.items))
        out.append(Receipt(number=f"{o.id}-P1", kind="payment", status="paid", reference=o.payment_ref, at=paid_at,
                           **common))
        if o.refund_ref:
            out.append(Receipt(number=f"{o.id}-R1", kind="refund", status="refunded" if o.status == "refunded" else "pending",
                               reference=o.refund_ref, at=o.updated_at, **common))
    return out


async def receipt_by_number(rt, *, member_id: int, number: str) -> Receipt:
    """One of the member's receipts; ``NotFound`` (``receipt_not_found``) otherwise."""
    booking_id = number.rsplit("-", 1)[0] if "-" in number else ""
    for receipt in await member_receipts(rt, member_id=member_id, booking_id=booking_id):
        if receipt.number == number:
            return receipt
    exc = NotFound("receipt", "receipt_not_found")
    exc.message = "未找到该收据。 / No such receipt."
    raise exc


_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(default=True))
_ENV.filters["yuan"] = lambda fen: f"{int(fen) // 100}.{int(fen) % 100:02d}"


def render_receipt(receipt: Receipt, *, city_name: str, tz) -> str:
    """The printable HTML page of a receipt (A5, no scripts, prints without the site's frame)."""
    return _ENV.get_template("receipt.html").render(r=receipt, city_name=city_name, tz=tz)
