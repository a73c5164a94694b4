"""Core outbox handlers, one per topic (see the outbox topics in ``core.outbox``).

Each runs with the message's city as the current city, may run more than once (a retry, a
replayed job) and therefore re-checks state before acting: the engine functions are no-ops
when a hold or offer is no longer due, pushes already made are recorded and not repeated.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from guahao.core import metrics, payments
from guahao.core.models import Booking, BookingEvent, Hospital, Notification, OutboxMessage
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


HIS_ACTIONS = ("book", "cancel", "move", "payment", "refund")


class HisPushWaiting(RuntimeError):
    """A push that follows another one still owed to the HIS (a move or payment before the
    booking itself was accepted): tried again later, in order."""


def his_push_key(action: str, payload: dict) -> str:
    """What makes one push of ``action`` distinct from another of the same booking: a booking
    is booked and cancelled once, but may move more than once and be paid and refunded per
    payment."""
    if action == "move":
        return str(payload.get("key") or "")
    if action in ("payment", "refund"):
        return str((payload.get(action) or {}).get("reference") or "")
    return ""


async def handle_his_push(ctx: JobContext, payload: dict) -> None:
    """Push a booking, its move, payment, refund or cancellation to the hospital's HIS (R7.1, R7.3).

    The adapter is the hospital's ``his_adapter``, else the first HIS plugin the city enabled;
    a hospital with neither has no HIS to tell. An accepted push is recorded as a booking
    event (action and key), which makes a repeated run a no-op. A booking that was never pushed
    needs no cancellation, and one cancelled before its push is not pushed at all; a move,
    payment or refund waits while the booking's own push is still owed, and is not sent for a
    booking the HIS never heard of (a refund: for a payment it never heard of). The adapter
    gets the booking view with the hospital's codes (``his``), the patient (``patient``) and
    the HIS's own reference of the booking (``his_reference``).
    """
    from guahao.core.booking.views import booking_view

    booking_id, action = payload["booking_id"], payload.get("action", "book")
    if action not in HIS_ACTIONS:
        raise ValueError(f"unknown HIS push action {action!r}")
    key = his_push_key(action, payload)
    async with ctx.rt.db.transaction() as s:
        booking = await s.scalar(select(Booking).where(Booking.id == booking_id))
        if booking is None:
            log.warning("HIS push for unknown booking %s dropped", booking_id)
            return
        hospital = await s.scalar(select(Hospital).where(Hospital.id == booking.hospital_id))
        events = (
            await s.scalars(
                select(BookingEvent).where(BookingEvent.booking_id == booking_id, BookingEvent.kind == HIS_PUSHED)
                .order_by(BookingEvent.id)
            )
        ).all()
        pushed = {((e.data or {}).get("action"), (e.data or {}).get("key", "")) for e in events}
        if (action, key) in pushed:
            return
        if action == "book" and str(booking.status) in ("cancelled", "expired"):
            return
        booked = ("book", "") in pushed
        if action == "cancel" and not booked:
            return
        if action in ("move", "payment", "refund"):
            if action == "move" and ("cancel", "") in pushed:
                return
            if not booked:
                if await _his_push_owed(s, booking_id, "book", ctx.message_id):
                    raise HisPushWaiting(f"booking {booking_id} is not yet accepted by the HIS")
                return
            paid = str((payload.get("refund") or {}).get("payment_reference") or "")
            if action == "refund" and ("payment", paid) not in pushed:
                if await _his_push_owed(s, booking_id, "payment", ctx.message_id):
                    raise HisPushWaiting(f"the payment of booking {booking_id} is not yet accepted by the HIS")
                return
        view = (await booking_view(s, booking)).model_dump(mode="json")
        view.update(await _his_details(s, booking, hospital))
        view["his_reference"] = next(
            ((e.data or {}).get("reference", "") for e in events if (e.data or {}).get("action") == "book"), "")
    adapter = _adapter_for(ctx.plugins, hospital)
    if adapter is None or (action in ("payment", "refund") and not adapter.supports(action)):
        return  # no HIS, or one that takes no payment messages
    settings, secrets = ctx.plugins.config_of(adapter, hospital.id if hospital is not None else None)
    with metrics.provider_call("his", adapter.name, action):
        if action == "book":
            ack = await adapter.push_booking(ctx.city, view, settings, secrets)
        elif action == "cancel":
            ack = await adapter.push_cancellation(ctx.city, view, settings, secrets)
        elif action == "move":
            previous = {**view, **(payload.get("previous") or {})}
            ack = await adapter.push_move(ctx.city, view, previous, settings, secrets)
        elif action == "payment":
            ack = await adapter.push_payment(ctx.city, view, dict(payload.get("payment") or {}), settings, secrets)
        else:
            ack = await adapter.push_refund(ctx.city, view, dict(payload.get("refund") or {}), settings, secrets)
    async with ctx.rt.db.transaction() as s:
        s.add(
            BookingEvent(
                booking_id=booking_id,
                kind=HIS_PUSHED,
                actor=f"his:{adapter.name}",
                data={"action": action, "key": key, "adapter": adapter.name, "reference": ack.reference,
                      "message": ack.message},
            )
        )


async def _his_push_owed(s, booking_id: str, action: str, own_id: int) -> bool:
    """A ``his.push`` of ``action`` for the booking is still waiting in the outbox."""
    rows = (
        await s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.topic == "his.push", OutboxMessage.status == "pending", OutboxMessage.id != own_id,
                OutboxMessage.payload["booking_id"].as_string() == booking_id,
            )
        )
    ).all()
    return any((r.payload or {}).get("action", "book") == action for r in rows)


async def _his_details(s, booking: Booking, hospital: Hospital | None) -> dict:
    """What a HIS needs beyond the member's view: the hospital's codes and the patient."""
    from guahao.core.models import ClinicSession, Department, Member
    from guahao.tenants.crypto import cipher

    department = await s.scalar(select(Department).where(Department.id == booking.department_id))
    campus_id = await s.scalar(select(ClinicSession.campus_id).where(ClinicSession.id == booking.session_id))
    member = await s.scalar(select(Member).where(Member.id == booking.member_id))
    patient: dict = {"member_id": booking.member_id}
    if member is not None:
        try:
            number = cipher().decrypt(member.id_number_encrypted)
        except Exception:  # a key rotated away: the masked number still identifies the patient
            number = ""
        patient.update(name=member.name, sex=member.sex, birth_date=member.birth_date.isoformat(),
                       id_number_masked=member.id_number_masked, id_number=number, card_no="")
    return {
        "his": {
            "hospital_code": hospital.code if hospital is not None else "",
            "department_code": department.code if department is not None else "",
            "doctor_code": f"D{booking.doctor_id}",
            "campus_code": str(campus_id) if campus_id is not None else "",
        },
        "patient": patient,
    }


async def handle_refund(ctx: JobContext, payload: dict) -> None:
    """Give back a payment (``core.payments.refund``): a cancelled paid booking, a late payment."""
    await payments.refund(ctx.rt, ctx.plugins, payload)


async def handle_void(ctx: JobContext, payload: dict) -> None:
    """Close the open payment of a booking that ended unpaid (``core.payments.void``)."""
    await payments.void(ctx.rt, ctx.plugins, payload)


async def handle_reconcile(ctx: JobContext, payload: dict) -> None:
    """Reconcile one provider's statement of one day (``core.payments.reconcile``)."""
    from guahao.core.payments.reconcile.planning import handle_reconcile as reconcile_day

    await reconcile_day(ctx, payload)


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
    "payment.reconcile": handle_reconcile,
    "payment.refund": handle_refund,
    "payment.void": handle_void,
    "usage.reported": handle_usage_reported,
}
