"""Handlers: a member's bookings and waitlist places (rules live in ``core.booking``)."""

from __future__ import annotations

from guahao.core import payments
from guahao.core.booking import service

from .operations import Call, Reply


async def book(call: Call) -> Reply:
    body, status, replayed = await service.book(
        call.rt,
        member_id=call.member_id,
        period_id=call.body.period_id,
        channel=call.body.channel,
        idempotency_key=call.idempotency_key,
        admit=call.count_limits,  # counted only when the period is not known to be sold out
    )
    return Reply(body, status, {"Idempotent-Replayed": "true"} if replayed else None)


async def list_bookings(call: Call) -> dict:
    return {"items": await service.list_bookings(call.rt, member_id=call.member_id, scope=call.query.scope)}


async def get_booking(call: Call) -> dict:
    return await service.get_booking(call.rt, member_id=call.member_id, booking_id=call.params["booking_id"])


async def cancel_booking(call: Call) -> dict:
    return await service.cancel_booking(
        call.rt, member_id=call.member_id, booking_id=call.params["booking_id"], reason=call.body.reason
    )


async def accept_offer(call: Call) -> dict:
    return await service.accept_offer(call.rt, member_id=call.member_id, booking_id=call.params["booking_id"])


async def join_waitlist(call: Call) -> dict:
    return await service.join_waitlist(call.rt, member_id=call.member_id, session_id=call.body.session_id)


async def list_waitlist(call: Call) -> dict:
    return {"items": await service.list_waitlist(call.rt, member_id=call.member_id)}


async def leave_waitlist(call: Call) -> dict:
    return await service.leave_waitlist(call.rt, member_id=call.member_id, entry_id=call.params["entry_id"])


async def start_payment(call: Call) -> dict:
    """The held booking's payment with the city's provider: where the member pays. The provider
    sends the member back to the booking's page on the patient site; the app asks
    ``GET …/payment`` for the outcome."""
    ref = call.params["booking_id"]
    back = str(call.request.base_url).rstrip("/") + f"/c/{call.city.slug}/bookings/{ref}/paid"
    intent = await payments.start_payment(call.rt, member_id=call.member_id, booking_id=ref, return_url=back)
    booking = await service.get_booking(call.rt, member_id=call.member_id, booking_id=ref)
    return {
        "booking_id": booking["id"], "provider": intent.provider, "amount_fen": intent.amount_fen,
        "online": intent.online, "instructions": intent.instructions, "redirect_url": intent.redirect_url,
        "qr_url": intent.data.get("qr_url") if isinstance(intent.data, dict) else None,
        "hold_expires_at": booking["hold_expires_at"],
    }


async def payment_status(call: Call) -> dict:
    """Where the booking's payment stands; a started payment is confirmed with the provider first
    (the member may be back before the provider's callback)."""
    ref = call.params["booking_id"]
    booking = await service.get_booking(call.rt, member_id=call.member_id, booking_id=ref)
    if booking["status"] == "pending_payment":
        await payments.check_payment(call.rt, member_id=call.member_id, booking_id=ref)
        booking = await service.get_booking(call.rt, member_id=call.member_id, booking_id=ref)
    return {key: booking[key] for key in ("id", "status", "payment_status", "fee_fen", "hold_expires_at")}
