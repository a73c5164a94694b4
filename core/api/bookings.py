"""Handlers: a member's bookings and waitlist places (rules live in ``core.booking``)."""

from __future__ import annotations

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
