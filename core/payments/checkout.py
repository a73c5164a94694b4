"""Online payment of a held booking (R3.5, R6): start it with the city's provider, take the
provider's word that it was paid, and give back money that came too late.

The hold rules: a payment that arrives for a booking whose hold has run out (or that was
cancelled meanwhile) does not revive it; it is recorded and refunded through the outbox
(``payment.refund``, carried out by ``refunds``), so a provider that is down delays the refund
and never loses it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.booking import engine, errors, events
from guahao.core.booking.inventory import released_periods
from guahao.core.booking.refs import is_booking_ref, normalise_ref
from guahao.core.booking.views import booking_view
from guahao.core.models import Booking, BookingStatus, Member
from guahao.core.plugins.interfaces import PaymentIntent
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from .fees.orders import fee_payment_received
from .fees.refs import is_fee_ref
from .providers import online_provider, return_url_for

CONFIRMED = "confirmed"
DUPLICATE = "duplicate"
REFUNDING = "refunding"


def _ref(booking_id: str) -> str:
    ref = normalise_ref(booking_id) if isinstance(booking_id, str) else ""
    if not is_booking_ref(ref):
        raise errors.BookingNotFound()
    return ref


def _payable(booking: Booking) -> None:
    if booking.status == BookingStatus.expired or (
        booking.status == BookingStatus.pending_payment
        and booking.hold_expires_at is not None
        and booking.hold_expires_at <= utcnow()
    ):
        raise errors.hold_expired(booking.id, booking.hold_expires_at)
    if booking.status != BookingStatus.pending_payment:
        raise errors.invalid_state(str(booking.status), "pay")


async def start_payment(rt, *, member_id: int, booking_id: str, return_url: str) -> PaymentIntent:
    """Open the payment of the member's held booking and note it on the booking.

    Returns the provider's intent (``redirect_url`` is where the member pays). Asking again
    gives the same payment (providers key it on the booking), so a double click pays once.
    Raises ``hold_expired``, ``invalid_state``, ``no_payment_provider`` or the provider's
    ``PaymentError``.
    """
    city = require_city()
    ref = _ref(booking_id)
    async with rt.db.transaction() as s:
        booking = await s.scalar(select(Booking).where(Booking.id == ref, Booking.member_id == member_id))
        if booking is None:
            raise errors.BookingNotFound()
        _payable(booking)
        view = await booking_view(s, booking)
        phone = await s.scalar(select(Member.phone).where(Member.id == member_id)) or ""
    description = f"挂号费 {view.hospital_name} {view.department_name} {view.doctor_name} {view.date} {view.start}"
    plugins = await rt.plugins.for_city(city)
    provider = online_provider(plugins, booking.payment_provider or plugins.hospital_payment_provider(booking.hospital_id))
    if provider is None:
        raise errors.no_payment_provider()
    settings, secrets = plugins.config_of(provider, booking.hospital_id)
    return_url = return_url_for(provider, return_url, phone)
    intent = await provider.prepare(booking, settings, secrets, return_url=return_url, description=description)
    async with rt.db.transaction() as s:
        booking = await s.scalar(select(Booking).where(Booking.id == ref).with_for_update())
        if booking.status == BookingStatus.pending_payment and booking.payment_ref != intent.reference:
            now = utcnow()
            booking.payment_provider = provider.name[:60]
            booking.payment_ref = intent.reference[:120]
            booking.updated_at = now
            events.record(
                s, booking, "payment_started", at=now, actor=f"member:{member_id}",
                data={"provider": provider.name, "payment_ref": intent.reference},
            )
            await events.write(s)
    return intent


async def payment_received(
    s: AsyncSession, booking_id: str, *, provider: str, payment_ref: str, amount_fen: int
) -> str:
    """The provider says ``amount_fen`` was paid for a booking, in the caller's transaction.

    Returns ``confirmed`` (the hold became a booking), ``duplicate`` (this payment was seen
    before: nothing changes) or ``refunding`` (the hold had ended or the booking was already
    paid another way: the money goes back). Raises ``not_found`` or ``amount_mismatch``.
    A fee order's reference (``FP…``) is settled by ``fees.fee_payment_received`` instead.
    """
    if is_fee_ref(booking_id):  # an in-clinic fee order, paid through the same providers
        return await fee_payment_received(s, booking_id, provider=provider, payment_ref=payment_ref, amount_fen=amount_fen)
    now = utcnow()
    booking = await s.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())
    if booking is None:
        raise errors.BookingNotFound()
    if booking.payment_ref == payment_ref and booking.payment_status in ("paid", "refunded"):
        return DUPLICATE
    if amount_fen != booking.fee_fen:
        raise errors.amount_mismatch(booking.id, booking.fee_fen, amount_fen)
    if booking.status == BookingStatus.pending_payment:
        if booking.hold_expires_at is None or booking.hold_expires_at > now:
            await engine.confirm_payment(s, booking.id, provider=provider, payment_ref=payment_ref, actor=f"payment:{provider}")
            events.his_push(s, booking, "payment", now=now, payment={
                "kind": "registration", "provider": provider, "reference": payment_ref, "amount_fen": amount_fen})
            await events.write(s)
            return CONFIRMED
        await engine.expire_hold(s, booking.id)  # its job has not run yet; the hold still rules
    late = {"provider": provider, "payment_ref": payment_ref, "amount_fen": amount_fen, "status": str(booking.status)}
    if booking.payment_status not in ("paid", "refunded"):
        booking.payment_status = "paid"
        booking.payment_provider = provider[:60]
        booking.payment_ref = payment_ref[:120]
        booking.updated_at = now
    events.record(s, booking, "paid_late", at=now, actor=f"payment:{provider}", data=late)
    events.emit(
        s,
        "payment.refund",
        {"booking_id": booking.id, "provider": provider, "payment_ref": payment_ref, "amount_fen": amount_fen,
         "reason": "late_payment"},
        now=now,
    )
    await events.write(s)
    return REFUNDING


async def check_payment(rt, *, member_id: int, booking_id: str) -> str | None:
    """Ask the provider about the member's held booking whose payment was started (the member
    is back from the provider's page before its callback arrived). Returns the outcome of
    :func:`payment_received` when the provider says paid, else ``None``."""
    city = require_city()
    ref = _ref(booking_id)
    async with rt.db.transaction() as s:
        booking = await s.scalar(select(Booking).where(Booking.id == ref, Booking.member_id == member_id))
    if booking is None:
        raise errors.BookingNotFound()
    if booking.status != BookingStatus.pending_payment or not (booking.payment_provider and booking.payment_ref):
        return None
    plugins = await rt.plugins.for_city(city)
    provider = plugins.payment_provider(booking.payment_provider)
    if provider is None:
        return None
    settings, secrets = plugins.config_of(provider, booking.hospital_id)
    result = await provider.execute(booking, settings, secrets)
    if result.status != "paid":
        return None
    async with rt.db.transaction() as s:
        outcome = await payment_received(
            s, booking.id, provider=provider.name, payment_ref=result.payment_ref, amount_fen=result.amount_fen
        )
        freed = released_periods(s)
    for period_id in freed:
        await rt.gate.clear(city.id, period_id)
    return outcome
