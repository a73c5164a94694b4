"""Core outbox handlers, one per topic (see the outbox topics in ``core.outbox``).

Each runs with the message's city as the current city, may run more than once (a retry, a
replayed job) and therefore re-checks state before acting: the engine functions are no-ops
when a hold or offer is no longer due, pushes already made are recorded and not repeated.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from guahao.core import metrics, payments
from guahao.core.models import Booking, BookingEvent, Hospital, Notification
from guahao.core.plugins.manager import call_robust

from .context import MAX_ATTEMPTS, Handler, JobContext

log = logging.getLogger("guahao.jobs")

HIS_PUSHED = "his_pushed"  # booking event kind: the HIS accepted a push (data: action, adapter, reference)


class PluginsFailed(RuntimeError):
    """Some plugins raised on a lifecycle event; the event is delivered again later."""


async def _lifecycle(caller, **kwargs) -> None:
    failed = [o for o in await call_robust(caller, **kwargs) if o.error is not None]
    if failed:
        raise PluginsFailed("; ".join(f"{o.plugin}: {type(o.error).__name__}: {o.error}" for o in failed))


async def handle_notify(ctx: JobContext, payload: dict) -> None:
    from guahao.core.notifications import deliver

    await deliver(ctx.rt, ctx.city, ctx.plugins, payload, final=ctx.attempt >= MAX_ATTEMPTS)


async def handle_booking_event(ctx: JobContext, payload: dict) -> None:
    """Hand a committed booking event to the city's plugins (licensing, channels…).

    Every plugin gets the event even when another fails; if any failed, the whole delivery is
    retried, so plugins see an event at least once and must dedupe (e.g. by booking id + kind).
    """
    await _lifecycle(ctx.plugins.hook.guahao_booking_event, city=ctx.city, event=payload, rt=ctx.rt)


async def handle_member_event(ctx: JobContext, payload: dict) -> None:
    """Hand a committed member event (``registered``) to the city's plugins (licensing…)."""
    await _lifecycle(ctx.plugins.hook.guahao_member_event, city=ctx.city, event=payload, rt=ctx.rt)


async def handle_usage_reported(ctx: JobContext, payload: dict) -> None:
    """Hand usage a plugin reported (``core.usage.report_usage``) to the city's plugins."""
    await _lifecycle(ctx.plugins.hook.guahao_usage_reported, city=ctx.city, usage=payload, rt=ctx.rt)


async def handle_hold_expiry(ctx: JobContext, payload: dict) -> None:
    from guahao.core.booking import engine

    async with ctx.rt.db.transaction() as s:
        await engine.expire_hold(s, payload["booking_id"])


async def handle_offer_expiry(ctx: JobContext, payload: dict) -> None:
    from guahao.core.booking import engine

    async with ctx.rt.db.transaction() as s:
        await engine.expire_offer(s, payload["booking_id"])


async def handle_notification_sent(ctx: JobContext, payload: dict) -> None:
    from guahao.core.notifications import notification_event

    async with ctx.rt.db.transaction() as s:
        note = await s.scalar(select(Notification).where(Notification.id == payload["notification_id"]))
    if note is None:
        return
    event = notification_event(note, payload.get("channel", "sms"))
    await _lifecycle(ctx.plugins.hook.guahao_notification_sent, city=ctx.city, notification=event, rt=ctx.rt)


async def handle_his_push(ctx: JobContext, payload: dict) -> None:
    """Push a booking or its cancellation to the hospital's HIS (R7.1, R7.3).

    The adapter is the hospital's ``his_adapter``, else the first HIS plugin the city enabled;
    a hospital with neither has no HIS to tell. An accepted push is recorded as a booking
    event, which makes a repeated run a no-op. A booking that was never pushed needs no
    cancellation, and one cancelled before its push is not pushed at all.
    """
    from guahao.core.booking.views import booking_view

    booking_id, action = payload["booking_id"], payload.get("action", "book")
    if action not in ("book", "cancel"):
        raise ValueError(f"unknown HIS push action {action!r}")
    async with ctx.rt.db.transaction() as s:
        booking = await s.scalar(select(Booking).where(Booking.id == booking_id))
        if booking is None:
            log.warning("HIS push for unknown booking %s dropped", booking_id)
            return
        hospital = await s.scalar(select(Hospital).where(Hospital.id == booking.hospital_id))
        pushed = {
            (e.data or {}).get("action")
            for e in (
                await s.scalars(
                    select(BookingEvent).where(BookingEvent.booking_id == booking_id, BookingEvent.kind == HIS_PUSHED)
                )
            ).all()
        }
        if action in pushed:
            return
        if action == "book" and str(booking.status) in ("cancelled", "expired"):
            return
        if action == "cancel" and "book" not in pushed:
            return
        view = (await booking_view(s, booking)).model_dump(mode="json")
    adapter = _adapter_for(ctx.plugins, hospital)
    if adapter is None:
        return
    settings, secrets = ctx.plugins.config_of(adapter, hospital.id if hospital is not None else None)
    push = adapter.push_booking if action == "book" else adapter.push_cancellation
    with metrics.provider_call("his", adapter.name, action):
        ack = await push(ctx.city, view, settings, secrets)
    async with ctx.rt.db.transaction() as s:
        s.add(
            BookingEvent(
                booking_id=booking_id,
                kind=HIS_PUSHED,
                actor=f"his:{adapter.name}",
                data={"action": action, "adapter": adapter.name, "reference": ack.reference, "message": ack.message},
            )
        )


async def handle_refund(ctx: JobContext, payload: dict) -> None:
    """Give back a payment (``core.payments.refund``): a cancelled paid booking, a late payment."""
    await payments.refund(ctx.rt, ctx.plugins, payload)


async def handle_void(ctx: JobContext, payload: dict) -> None:
    """Close the open payment of a booking that ended unpaid (``core.payments.void``)."""
    await payments.void(ctx.rt, ctx.plugins, payload)


def _adapter_for(plugins, hospital: Hospital | None):
    wanted = hospital.his_adapter if hospital is not None else ""
    if wanted:
        adapter = plugins.his_adapter(wanted)
        if adapter is None:  # configured but not enabled: retry until it is, then fail visibly
            raise LookupError(f"HIS adapter {wanted!r} of hospital {hospital.id} is not enabled in this city")
        return adapter
    adapters = plugins.his_adapters()
    return adapters[0] if adapters else None


BUILTIN_HANDLERS: dict[str, Handler] = {
    "notify": handle_notify,
    "booking.event": handle_booking_event,
    "booking.hold_expiry": handle_hold_expiry,
    "booking.offer_expiry": handle_offer_expiry,
    "his.push": handle_his_push,
    "member.event": handle_member_event,
    "notification.sent": handle_notification_sent,
    "payment.refund": handle_refund,
    "payment.void": handle_void,
    "usage.reported": handle_usage_reported,
}
