"""The HL7 v2.5 HIS adapter: each push is one SIU message over MLLP, answered by an ACK.

``AA`` → :class:`HisAck` (reference: the HIS's appointment id, SCH-2 of the ACK when it carries
one); ``AE`` → :class:`HisApplicationError` (retried by the outbox, with the HIS's text);
``AR`` → :class:`HisRejected` (not retried: the delivery shows as failed with the HIS's text);
no answer → :class:`HisUnavailable` (retried). Schedules and visit outcomes come from what the
HIS sent to our listener (``listener``), read back from the plugin's table.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from datetime import date, datetime, timedelta
from typing import Mapping

from guahao.plugin_api import (
    CityContext,
    HisAck,
    HisAdapter,
    HisHealth,
    HisRejected,
    ScheduleItem,
    VisitStatus,
    utcnow,
)

from . import log, messages
from .mllp import HisUnavailable, exchange

NAME = "hl7v2"


class HisApplicationError(RuntimeError):
    """The HIS answered ``AE`` (an application error): the same message is sent again later."""


def half_day_of(local: datetime) -> str:
    return "am" if local.hour < 12 else "pm" if local.hour < 18 else "night"


class Hl7v2His(HisAdapter):
    """Pushes bookings, moves, payments, refunds and cancellations as SIU messages."""

    name = NAME
    verbose_name = "HL7 v2（MLLP）"
    operations = frozenset({"book", "cancel", "move", "payment", "refund", "no_show", "schedules", "visits", "health"})
    supports_pull = True

    # --- pushes -------------------------------------------------------------------------

    async def push_booking(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        return await self.send(city, "book", booking, settings, key="book")

    async def push_cancellation(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        return await self.send(city, "cancel", booking, settings, key="cancel",
                               reason=str(booking.get("cancel_reason") or "cancelled"))

    async def push_move(self, city, booking: dict, previous: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        was = f"{previous.get('date')} {previous.get('start')}-{previous.get('end')} {previous.get('doctor_name', '')}"
        return await self.send(city, "move", booking, settings,
                               key=f"move:{booking.get('session_id')}:{booking.get('period_id')}",
                               reason="rescheduled", note=f"改约，原时间 {was.strip()}")

    async def push_payment(self, city, booking: dict, payment: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        return await self.send(city, "payment", booking, settings, key=f"pay:{payment.get('reference', '')}",
                               reason="payment", payment=dict(payment))

    async def push_refund(self, city, booking: dict, refund: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        return await self.send(city, "refund", booking, settings, key=f"refund:{refund.get('reference', '')}",
                               reason="refund", payment={**refund, "refund": True})

    async def push_no_show(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        """SIU^S26: the platform recorded a no-show (its own sweep: nobody reported the arrival)."""
        return await self.send(city, "no_show", booking, settings, key="no_show", reason="no_show")

    async def send(
        self, city: CityContext, action: str, booking: Mapping, settings: Mapping, *, key: str, reason: str = "",
        note: str = "", payment: dict | None = None,
    ) -> HisAck:
        """Build the SIU message of ``action``, send it and read its ACK (see the module)."""
        event = messages.EVENTS[action]
        codes = booking.get("his") or {}
        hospital_code = str(codes.get("hospital_code") or "")
        host, port, timeout = self._where(settings, hospital_code, city)
        header = messages.Header.from_settings(settings, city_slug=city.slug, hospital_code=hospital_code)
        mid = messages.control_id(city.slug, booking["id"], event, key)
        er7 = messages.siu(
            event, booking, header=header, tz=city.tz, identity=str(settings.get("patient_identity") or "masked_id"),
            at=utcnow().astimezone(city.tz), message_id=mid, reason=reason, filler_id=str(booking.get("his_reference") or ""),
            payment=payment, notes=[note] if note else [],
        )
        row = {"hospital_id": booking.get("hospital_id"), "direction": "out", "message_type": f"SIU^{event}",
               "control_id": mid, "booking_id": str(booking["id"])}
        try:
            answer, ms = await exchange(host, port, er7, timeout=timeout)
            ack = messages.read_ack(answer)
        except HisUnavailable as exc:
            await log.record(city, **row, text=str(exc))
            raise
        except ValueError as exc:
            await log.record(city, **row, text=f"not an ACK: {exc}")
            raise HisUnavailable(f"HIS {host}:{port} answered with something that is not an ACK") from None
        await log.record(city, **row, ack_code=ack.code[:2], text=ack.text, latency_ms=int(ms),
                         reference=ack.filler_id[:80])
        if ack.control_id and ack.control_id != mid:
            raise HisUnavailable(f"HIS {host}:{port} acknowledged message {ack.control_id}, not {mid}")
        if ack.code in ("AA", "CA"):
            return HisAck(reference=ack.filler_id or str(booking.get("his_reference") or ""), message=ack.text)
        if ack.code in ("AR", "CR"):
            raise HisRejected(f"HIS refused SIU^{event} ({ack.code}): {ack.text or 'no reason given'}")
        raise HisApplicationError(f"HIS could not process SIU^{event} ({ack.code or '?'}): {ack.text or 'no reason given'}")

    @staticmethod
    def _where(settings: Mapping, hospital_code: str = "", city: CityContext | None = None) -> tuple[str, int, float]:
        """The HIS's MLLP address: the ``host``/``port`` settings, or, with none and the city's
        ``simulator`` on, this process's practice HIS of the hospital (``practice``)."""
        host = str(settings.get("host") or "").strip()
        if not host and settings.get("simulator") and city is not None:
            from .running import address

            found = address(city.id, hospital_code)
            if found is None:
                raise HisUnavailable(f"the practice HIS of hospital {hospital_code or '?'} has not started yet")
            return found[0], found[1], float(settings.get("timeout") or 10)
        if not host:
            raise HisUnavailable(
                f"no HIS address set for hospital {hospital_code or '?'}: "
                f"guahao his set CITY {hospital_code or 'HOSPITAL'} hl7v2 --set host=… --set port=…")
        return host, int(settings.get("port") or 2575), float(settings.get("timeout") or 10)

    # --- health -------------------------------------------------------------------------

    async def health(self, city, settings: Mapping, secrets: Mapping) -> HisHealth:
        """Opens a connection to the HIS's MLLP port and reports how long it took."""
        try:
            host, port, timeout = self._where(settings, city=city)
        except HisUnavailable as exc:
            return HisHealth(ok=False, detail=str(exc))
        started = time.perf_counter()
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            return HisHealth(ok=False, detail=f"MLLP {host}:{port} cannot be reached: {type(exc).__name__}")
        ms = (time.perf_counter() - started) * 1000
        writer.close()
        try:
            await asyncio.wait_for(writer.wait_closed(), 1)
        except (OSError, asyncio.TimeoutError):
            pass
        return HisHealth(ok=True, detail=f"MLLP {host}:{port} accepts connections", latency_ms=round(ms, 1))

    # --- what the HIS sent us -----------------------------------------------------------

    @staticmethod
    def _runtime():
        return log.runtime()

    async def pull_schedules(
        self, city, hospital_code: str, date_from: date, date_to: date, settings: Mapping, secrets: Mapping
    ) -> list[ScheduleItem]:
        """Sessions the HIS blocked (SIU^S23 → ``suspended``, with its reason) or opened
        (SIU^S24 → ``open``) for these days; the latest message about a session wins. The
        messages carry no capacities: with the ``slot_capacity`` setting 0 ``periods`` is empty
        (an S24 reopens a session the platform has, its pools as they are); above 0 the opened
        time is cut into periods of ``slot_minutes`` with that many online places each, so an
        S24 for time the platform has no session of becomes a bookable session."""
        rows = await log.received(self._runtime(), city, hospital_code, kinds=("blocked", "unblocked"),
                                  day_from=date_from, day_to=date_to)
        latest: OrderedDict[tuple, ScheduleItem] = OrderedDict()
        capacity, minutes = int(settings.get("slot_capacity") or 0), int(settings.get("slot_minutes") or 30)
        for r in rows:
            local = r.starts_at.astimezone(city.tz) if r.starts_at else None
            half_day = half_day_of(local) if local else "am"
            opened = r.kind != "blocked"
            item = ScheduleItem(
                doctor_code=r.doctor_code, date=r.day or date_from, half_day=half_day,
                department_code=r.department_code, status="open" if opened else "suspended",
                reason="" if opened else r.reason, reference=r.reference,
                periods=_periods(local, r.ends_at.astimezone(city.tz) if r.ends_at else None, minutes, capacity)
                if opened else [],
            )
            key = (item.doctor_code, item.date, item.half_day)
            latest.pop(key, None)
            latest[key] = item
        return list(latest.values())

    async def pull_visit_status(self, city, hospital_code: str, day: date, settings: Mapping,
                                secrets: Mapping) -> list[VisitStatus]:
        """Check-ins (ADT^A04) and no-shows (SIU^S26) the HIS reported for ``day``."""
        rows = await log.received(self._runtime(), city, hospital_code, kinds=("checked_in", "no_show"),
                                  day_from=day, day_to=day)
        out: dict[str, VisitStatus] = {}
        for r in rows:
            if r.booking_id:
                out[r.booking_id] = VisitStatus(booking_id=r.booking_id, outcome=r.kind, at=r.at, reference=r.reference)
        return list(out.values())


def _periods(start: datetime | None, end: datetime | None, minutes: int, capacity: int) -> list[dict]:
    """The opened time ``[start, end)`` (local) cut into periods of ``minutes`` with ``capacity``
    online places each; none without a capacity or a whole period."""
    if not capacity or start is None or end is None:
        return []
    out, at, step = [], start, timedelta(minutes=minutes)
    while at + step <= end:
        out.append({"start": f"{at:%H:%M}", "end": f"{at + step:%H:%M}", "pools": {"public": capacity}})
        at += step
    return out
