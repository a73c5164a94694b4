"""From domain events to ledger rows: what each event counts, and under which source id.

Events arrive at least once (the outbox retries, a worker may die after appending and before
marking its message done); the source ids make a repeat count nothing. Source ids:

- ``booking.confirmed:<booking>`` / ``booking.cancelled:<booking>`` — a booking is confirmed
  once and cancelled once;
- ``fee.paid_fen:<booking>:<payment ref>``, ``fee.refunded_fen:<booking>:<refund ref>``;
- ``hospital.active:<hospital id>:<YYYY-MM>`` — the hospital's first confirmed booking of the
  city's local month;
- ``notification.sent:<notification id>``, ``member.registered:<member id>``;
- a plugin's own ids for what it reports (``core.usage.report_usage``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from guahao.core.models import ClinicSession, RegistrationType
from guahao.plugin_api import city_session

from .append import Usage, append
from .meters import METERS, sms_segments


def _when(value: str | None) -> datetime:
    from guahao.plugin_api import utcnow

    return datetime.fromisoformat(value) if value else utcnow()


async def _registration_type(s, session_id: int | None) -> str:
    if session_id is None:
        return ""
    code = await s.scalar(
        select(RegistrationType.code)
        .join(ClinicSession, ClinicSession.registration_type_id == RegistrationType.id)
        .where(ClinicSession.id == session_id)
    )
    return code or ""


def booking_usage(city, event: dict, registration_type: str) -> list[Usage]:
    """The facts a booking event counts (none for most kinds)."""
    kind, booking = event.get("kind"), event.get("booking_id")
    at = _when(event.get("at"))
    data = event.get("data") or {}
    channel = str(event.get("channel") or "")
    out: list[Usage] = []
    if kind == "confirmed":
        out.append(Usage("booking.confirmed", 1, f"booking.confirmed:{booking}", at,
                         {"channel": channel, "registration_type": registration_type}))
        month = at.astimezone(city.tz).strftime("%Y-%m")
        hospital = event.get("hospital_id")
        if hospital is not None:
            out.append(Usage("hospital.active", 1, f"hospital.active:{hospital}:{month}", at, {"hospital": str(hospital)}))
    elif kind == "cancelled":
        out.append(Usage("booking.cancelled", 1, f"booking.cancelled:{booking}", at,
                         {"channel": channel, "registration_type": registration_type,
                          "reason": str(data.get("reason") or "")[:40]}))
    elif kind in ("paid", "paid_late"):
        amount = int(data.get("amount_fen", event.get("fee_fen") or 0))
        if amount > 0:
            out.append(Usage("fee.paid_fen", amount, f"fee.paid_fen:{booking}:{data.get('payment_ref', '')}", at,
                             {"provider": str(data.get("provider") or "")}))
    elif kind in ("refunded", "refund_succeeded") and (kind == "refund_succeeded" or data.get("status") == "refunded"):
        amount = int(data.get("amount_fen") or 0)
        ref = data.get("refund_ref") or data.get("payment_ref") or ""
        if amount > 0:
            out.append(Usage("fee.refunded_fen", amount, f"fee.refunded_fen:{booking}:{ref}", at,
                             {"provider": str(data.get("provider") or "")}))
    return out


async def meter_booking_event(city, event: dict, rt) -> int:
    """Count what a booking event bills (``guahao_booking_event``)."""
    if event.get("kind") not in ("confirmed", "cancelled", "paid", "paid_late", "refunded", "refund_succeeded"):
        return 0
    async with city_session(rt, city) as s:
        wanted = event.get("kind") in ("confirmed", "cancelled")
        registration_type = await _registration_type(s, event.get("session_id")) if wanted else ""
        return await append(s, booking_usage(city, event, registration_type))


async def meter_notification(city, notification: dict, rt) -> int:
    """Count a delivered message (``guahao_notification_sent``); an SMS in 70-character segments."""
    channel = str(notification.get("channel") or "")
    quantity = sms_segments(int(notification.get("chars") or 0)) if channel == "sms" else 1
    usage = Usage("notification.sent", quantity, f"notification.sent:{notification['id']}",
                  _when(notification.get("sent_at")), {"channel": channel, "kind": str(notification.get("kind") or "")})
    async with city_session(rt, city) as s:
        return await append(s, [usage])


async def meter_member_event(city, event: dict, rt) -> int:
    """Count a registration (``guahao_member_event`` of kind ``registered``)."""
    if event.get("kind") != "registered":
        return 0
    by = str(event.get("registered_by") or "self")
    usage = Usage("member.registered", 1, f"member.registered:{event['member_id']}", _when(event.get("at")),
                  {"registered_by": "self" if by == "self" else "staff"})
    async with city_session(rt, city) as s:
        return await append(s, [usage])


async def meter_reported(city, usage: dict, rt) -> int:
    """Count what a plugin reported (``guahao_usage_reported``); unknown meters are refused."""
    if usage.get("meter") not in METERS:
        raise ValueError(f"unknown meter {usage.get('meter')!r} reported")
    item = Usage(usage["meter"], int(usage["quantity"]), str(usage["source_id"]), _when(usage.get("occurred_at")),
                 dict(usage.get("dimensions") or {}))
    async with city_session(rt, city) as s:
        return await append(s, [item])
