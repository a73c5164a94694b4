"""The one-click re-query of a mismatch: ask the provider about the booking's payment now
(its ``execute``) and, when it says paid, record the payment the way its callback would have
(``core.payments.payment_received``: it confirms a live hold, or refunds a payment that came
too late). A payment mismatch the answer settles (the provider says paid with the booking's
fee, and the booking now shows it paid) is resolved; every re-query is audited
(``payment.requery``) and noted on the mismatch."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from guahao.core import audit, metrics
from guahao.core.booking.inventory import released_periods
from guahao.core.errors import Conflict, DomainError
from guahao.core.models import Booking
from guahao.core.payments.checkout import payment_received
from guahao.core.plugins.interfaces import PaymentResult
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from .service import mismatch_in_scope


@dataclass(frozen=True)
class Requeried:
    """The provider's answer and what the platform did with it."""

    result: PaymentResult
    outcome: str  # confirmed | duplicate | refunding | "" (nothing recorded)
    resolved: bool


async def requery(rt, actor, mismatch_id: int, *, hospital_id: int | None = None) -> Requeried:
    """Ask the provider about the mismatch's booking now; raises ``NotFound`` (out of scope),
    ``Conflict`` (no booking to ask about, provider not enabled) or the provider's error as a
    ``DomainError`` (``requery_failed``)."""
    city = require_city()
    async with rt.db.transaction() as s:
        row = await mismatch_in_scope(s, mismatch_id, hospital_id)
        booking = await s.scalar(select(Booking).where(Booking.id == row.booking_id)) if row.booking_id else None
        provider_name = row.provider
    if booking is None:
        raise Conflict("no_booking", "该差异没有对应的预约，无法重新查询；请到支付平台核实。 / "
                       "No booking to ask about; check it at the provider.")
    plugins = await rt.plugins.for_city(city)
    provider = plugins.payment_provider(provider_name)
    if provider is None:
        raise Conflict("provider_not_enabled", f"本市未启用 {provider_name}。 / {provider_name} is not enabled in this city.")
    settings, secrets = plugins.config_of(provider, booking.hospital_id)
    if row.our_ref and booking.payment_ref != row.our_ref:
        values = {c.name: getattr(booking, c.name) for c in Booking.__table__.columns}
        booking = Booking(**{**values, "payment_ref": row.our_ref})  # a detached copy, never flushed
    try:
        with metrics.provider_call("payment", provider.name, "execute"):
            result = await provider.execute(booking, settings, secrets)
    except DomainError:
        raise
    except Exception as exc:
        raise DomainError("requery_failed", f"支付平台暂时无法查询，请稍后再试。 / The provider could not be asked: "
                          f"{type(exc).__name__}", status=502) from exc
    outcome = ""
    freed: set = set()
    async with rt.db.transaction() as s:
        if result.status == "paid" and result.payment_ref:
            try:
                outcome = await payment_received(s, booking.id, provider=provider.name,
                                                 payment_ref=result.payment_ref, amount_fen=result.amount_fen)
            except DomainError as exc:  # an amount that does not match the fee: noted, nothing recorded
                outcome = exc.code
            freed = set(released_periods(s))  # a hold that had run out gave its slot back
        row = await mismatch_in_scope(s, mismatch_id, hospital_id)
        fresh = await s.scalar(select(Booking).where(Booking.id == booking.id))
        before = {"status": row.status, "note": row.note}
        said = f"{utcnow():%Y-%m-%d %H:%M} UTC 重新查询：{result.status} {result.amount_fen} 分 {outcome}".strip()
        row.note = said[:500]
        resolved = (
            row.status == "open" and row.line_kind == "payment" and result.status == "paid"
            and fresh is not None and result.amount_fen == fresh.fee_fen
            and fresh.payment_status in ("paid", "refunded") and fresh.payment_ref == result.payment_ref
            and row.kind in ("status_differs", "missing_at_provider")
        )
        if resolved:
            row.status, row.resolved_at, row.resolved_by = "resolved", utcnow(), actor.label[:80]
        audit.record(s, actor, "payment.requery", target_type="payment_mismatch", target_id=row.id,
                     summary=f"{provider.name} asked about {booking.id}: {result.status} {result.amount_fen} fen"
                             f"{' → ' + outcome if outcome else ''}",
                     before=before, after={"status": row.status, "note": row.note})
    for period_id in freed:
        await rt.gate.clear(city.id, period_id)
    return Requeried(result, outcome, resolved)
