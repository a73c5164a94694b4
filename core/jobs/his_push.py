"""The ``his.push`` outbox topic: a booking, its move, payment, refund, cancellation or no-show told to
the hospital's HIS (R7.1, R7.3), each once, in order, through the hospital's adapter."""

from __future__ import annotations

import logging

from sqlalchemy import select

from guahao.core import metrics
from guahao.core.models import Booking, BookingEvent, Hospital, OutboxMessage
from guahao.core.payments import fees
from guahao.core.plugins.interfaces import HisRejected

from .context import JobContext

log = logging.getLogger("guahao.jobs")

HIS_PUSHED = "his_pushed"  # booking event kind: the HIS accepted a push (data: action, key, adapter, reference)

HIS_ACTIONS = ("book", "cancel", "move", "payment", "refund", "no_show")


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
    """Push a booking, its move, payment, refund, cancellation or no-show to the hospital's HIS (R7.1, R7.3).

    The adapter is the hospital's ``his_adapter``, else the first HIS plugin the city enabled;
    a hospital with neither has no HIS to tell. An accepted push is recorded as a booking
    event (action and key), which makes a repeated run a no-op. A booking that was never pushed
    needs no cancellation, and one cancelled before its push is not pushed at all; a move,
    payment or refund waits while the booking's own push is still owed, and is not sent for a
    booking the HIS never heard of (a refund: for a payment it never heard of). The payment of
    fee items (kind ``fees``) goes in any case: the HIS reported them, so it knows the visit. The adapter
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
        fees_paid = action == "payment" and (payload.get("payment") or {}).get("kind") == "fees"
        if action in ("move", "payment", "refund", "no_show") and not fees_paid:  # the HIS itself billed the fee items
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
    adapter = adapter_for(ctx.plugins, hospital)
    if adapter is None or (action in ("payment", "refund", "no_show") and not adapter.supports(action)):
        return  # no HIS, or one that takes no payment or no-show messages
    settings, secrets = ctx.plugins.config_of(adapter, hospital.id if hospital is not None else None)
    with metrics.provider_call("his", adapter.name, action):
        if action == "book":
            ack = await adapter.push_booking(ctx.city, view, settings, secrets)
        elif action == "cancel":
            ack = await adapter.push_cancellation(ctx.city, view, settings, secrets)
        elif action == "no_show":
            ack = await adapter.push_no_show(ctx.city, view, settings, secrets)
        elif action == "move":
            previous = {**view, **(payload.get("previous") or {})}
            ack = await adapter.push_move(ctx.city, view, previous, settings, secrets)
        elif action == "payment":
            payment = dict(payload.get("payment") or {})
            try:
                ack = await adapter.push_payment(ctx.city, view, payment, settings, secrets)
            except HisRejected as refused:
                if payment.get("kind") != "fees":
                    raise
                async with ctx.rt.db.transaction() as s:  # the HIS will not take it: the money goes back
                    await fees.his_refused(s, str(payment.get("reference") or ""), str(refused))
                return
        else:
            ack = await adapter.push_refund(ctx.city, view, dict(payload.get("refund") or {}), settings, secrets)
    async with ctx.rt.db.transaction() as s:
        if action == "payment" and (payload.get("payment") or {}).get("kind") == "fees":
            await fees.his_accepted(s, str(payload["payment"].get("reference") or ""), ack.reference or ack.message)
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


def adapter_for(plugins, hospital: Hospital | None):
    """The HIS adapter of ``hospital``: its ``his_adapter``, else the first HIS plugin the city
    enabled, else ``None`` (no HIS to tell); raises while the named one is not enabled."""
    wanted = hospital.his_adapter if hospital is not None else ""
    adapter = plugins.hospital_his_adapter(wanted)
    if wanted and adapter is None:  # configured but not enabled: retry until it is, then fail visibly
        raise LookupError(f"HIS adapter {wanted!r} of hospital {hospital.id} is not enabled in this city")
    return adapter
