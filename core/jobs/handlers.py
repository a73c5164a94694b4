"""Core outbox handlers, one per topic (see the outbox topics in ``core.outbox``).

Each runs with the message's city as the current city, may run more than once (a retry, a
replayed job) and therefore re-checks state before acting: the engine functions are no-ops
when a hold or offer is no longer due, pushes already made are recorded and not repeated.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from guahao.core import payments
from guahao.core.models import Notification
from guahao.core.payments import fees
from guahao.core.plugins.manager import call_robust

from .context import MAX_ATTEMPTS, Handler, JobContext
from .his_push import handle_his_push

log = logging.getLogger("guahao.jobs")


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


async def handle_refund(ctx: JobContext, payload: dict) -> None:
    """Give back a payment (``core.payments.refund``): a cancelled paid booking, a late payment."""
    if fees.is_fee_ref(payload.get("booking_id")):  # an in-clinic fee order's money
        await fees.refund_fee_order(ctx.rt, ctx.plugins, payload)
        return
    await payments.refund(ctx.rt, ctx.plugins, payload)


async def handle_void(ctx: JobContext, payload: dict) -> None:
    """Close the open payment of a booking that ended unpaid (``core.payments.void``)."""
    await payments.void(ctx.rt, ctx.plugins, payload)


async def handle_reconcile(ctx: JobContext, payload: dict) -> None:
    """Reconcile one provider's statement of one day (``core.payments.reconcile``)."""
    from guahao.core.payments.reconcile.planning import handle_reconcile as reconcile_day

    await reconcile_day(ctx, payload)


BUILTIN_HANDLERS: dict[str, Handler] = {
    "notify": handle_notify,
    "booking.event": handle_booking_event,
    "booking.hold_expiry": handle_hold_expiry,
    "booking.offer_expiry": handle_offer_expiry,
    "his.push": handle_his_push,
    "member.event": handle_member_event,
    "notification.sent": handle_notification_sent,
    "payment.reconcile": handle_reconcile,
    "payment.refund": handle_refund,
    "payment.void": handle_void,
    "usage.reported": handle_usage_reported,
}
