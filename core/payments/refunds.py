"""Moving money back or closing payments, through the booking's provider: the work of the
``payment.refund`` and ``payment.void`` outbox messages (their handlers in ``core.jobs`` call
:func:`refund` and :func:`void` with the job's runtime and the city's plugins).

``payment.refund`` gives back a payment (a cancelled paid booking, a payment that came after
its hold ended); ``payment.void`` closes a started payment whose booking ended unpaid. Both
run after the change that caused them committed, are retried with back-off by the runner
(the final failure stays on the outbox row for staff) and are idempotent: a refund already
recorded on the booking is not asked for again, and providers key their calls on the payment.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from guahao.core import metrics
from guahao.core.booking import events
from guahao.core.models import Booking, BookingEvent, BookingStatus
from guahao.tenants.clock import utcnow

log = logging.getLogger("guahao.payments")

REFUNDED = "refunded"  # booking event kind: data provider, payment_ref, refund_ref, amount_fen, status


class ProviderMissing(LookupError):
    """The booking's payment provider is not enabled in the city (retried until it is)."""


def _provider(plugins, name: str):
    provider = plugins.payment_provider(name) if name else None
    if provider is None:
        raise ProviderMissing(f"payment provider {name!r} is not enabled in this city")
    return provider


def _copy(booking: Booking, **changes) -> Booking:
    """A detached copy of the booking for the provider (never flushed)."""
    values = {c.name: getattr(booking, c.name) for c in Booking.__table__.columns}
    return Booking(**{**values, **changes})


async def refund(rt, plugins, payload: dict) -> None:
    """Refund ``amount_fen`` of the payment ``payment_ref`` and record it on the booking.

    ``payload`` is the ``payment.refund`` message's: ``booking_id``, ``payment_ref``, and
    optionally ``provider`` (default: the booking's), ``amount_fen`` (default: the fee) and
    ``reason``. Raises ``ProviderMissing`` while the provider is not enabled in the city.
    """
    booking_id, payment_ref = payload["booking_id"], payload.get("payment_ref", "")
    async with rt.db.transaction() as s:
        booking = await s.scalar(select(Booking).where(Booking.id == booking_id))
        if booking is None:
            log.warning("refund for unknown booking %s dropped", booking_id)
            return
        done = (
            await s.scalars(select(BookingEvent).where(BookingEvent.booking_id == booking_id, BookingEvent.kind == REFUNDED))
        ).all()
        if any((e.data or {}).get("payment_ref") == payment_ref for e in done):
            return
    provider = _provider(plugins, payload.get("provider") or booking.payment_provider)
    settings, secrets = plugins.config_of(provider, booking.hospital_id)
    amount = int(payload.get("amount_fen", booking.fee_fen))
    with metrics.provider_call("payment", provider.name, "refund"):
        result = await provider.refund(_copy(booking, payment_ref=payment_ref), amount, settings, secrets)
    async with rt.db.transaction() as s:
        booking = await s.scalar(select(Booking).where(Booking.id == booking_id).with_for_update())
        if booking.payment_ref == payment_ref and result.status == "refunded":  # "pending": the provider settles it
            booking.payment_status = "refunded"
        events.record(
            s,
            booking,
            REFUNDED,
            at=utcnow(),
            actor=f"payment:{provider.name}",
            data={
                "provider": provider.name,
                "payment_ref": payment_ref,
                "refund_ref": result.reference,
                "amount_fen": result.amount_fen,
                "status": result.status,
                "reason": payload.get("reason", ""),
            },
        )
        if result.status == "refunded":  # the HIS hears of money given back (his.push refund)
            events.his_push(s, booking, "refund", now=utcnow(), refund={
                "kind": "registration", "provider": provider.name, "reference": result.reference or payment_ref,
                "payment_reference": payment_ref, "amount_fen": result.amount_fen})
        await events.write(s)


async def void(rt, plugins, payload: dict) -> None:
    """Close the open payment of a booking that ended unpaid (the provider's ``cancel``).

    ``payload`` is the ``payment.void`` message's: ``booking_id`` and optionally ``provider``.
    """
    async with rt.db.transaction() as s:
        booking = await s.scalar(select(Booking).where(Booking.id == payload["booking_id"]))
    if booking is None or booking.payment_status != "unpaid" or booking.status == BookingStatus.pending_payment:
        return
    provider = _provider(plugins, payload.get("provider") or booking.payment_provider)
    settings, secrets = plugins.config_of(provider, booking.hospital_id)
    with metrics.provider_call("payment", provider.name, "cancel"):
        await provider.cancel(booking, settings, secrets)
