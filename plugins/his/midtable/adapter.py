"""The intermediate-table HIS adapter: rows in the hospital's own database (``docs/his-midtable.md``).

Pushes: each booking, cancellation, move, payment and refund is one row of ``mt_request`` with a
unique ``request_id`` (booking, action and what it is about), so a push the outbox retries is
written once. The push then waits up to ``ack_wait`` seconds for the HIS to mark the row:
``DONE`` → :class:`HisAck` with the HIS's number; ``ERROR`` → :class:`HisRejected` with its
text (not retried); still ``NEW``/``TAKEN`` → :class:`HisPending` (retried later: the retry
writes nothing and looks at the row again). A database that cannot be reached raises
:class:`HisUnavailable` (retried).

Pulls: schedules, visits and fee items are read by row version (``reader``) into the plugin's
own table and answered from it.
"""

from __future__ import annotations

import asyncio
import time as clock
import weakref
from datetime import UTC, date, datetime, time
from typing import Mapping

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from guahao.plugin_api import (
    CityContext,
    FeeItem,
    HisAck,
    HisAdapter,
    HisHealth,
    HisRejected,
    ScheduleItem,
    VisitStatus,
)

from . import database, reader
from .database import HisUnavailable, Tables

NAME = "midtable"
POLL_SECONDS = 0.2
ACTIONS = {"book": "BOOK", "cancel": "CANCEL", "move": "MOVE", "payment": "PAY", "refund": "REFUND"}
OUTCOMES = {"CHECKED_IN": "checked_in", "SEEN": "seen", "NO_SHOW": "no_show"}
FEE_KINDS = ("drug", "exam", "lab", "treatment", "other")
POOLS = (("capacity", "public"), ("onsite_capacity", "onsite"), ("clinic_capacity", "clinic"),
         ("referral_capacity", "referral"))


class HisPending(RuntimeError):
    """The row is written but the HIS has not marked it yet: looked at again later."""


def tables(settings: Mapping) -> Tables:
    prefix = settings.get("table_prefix")
    return Tables("mt_" if prefix is None else str(prefix))


def _clock(value: str | None) -> time | None:
    if not value:
        return None
    hour, minute = str(value).split(":")[:2]
    return time(int(hour), int(minute))


def _day(value) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _hhmm(value) -> str:
    """A TIME column as ``HH:MM`` (MySQL drivers give ``timedelta``, others ``time``)."""
    if hasattr(value, "total_seconds"):
        minutes = int(value.total_seconds()) // 60
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)[:5]


def request_id(action: str, booking: Mapping, detail: str = "") -> str:
    """The row's unique id: the same push always has the same one (see the module)."""
    return ":".join(x for x in (str(booking["id"]), ACTIONS[action], detail) if x)[:120]


def request_row(action: str, booking: Mapping, settings: Mapping, *, rid: str, previous: Mapping | None = None,
                money: Mapping | None = None) -> dict:
    """The ``mt_request`` row of one push (the columns of ``docs/his-midtable.sql``)."""
    his = booking.get("his") or {}
    patient = booking.get("patient") or {}
    full = str(settings.get("patient_identity") or "masked_id") == "full_id"
    id_number = (patient.get("id_number") if full else "") or patient.get("id_number_masked") or ""
    sex = str(patient.get("sex") or "")
    row = {
        "request_id": rid, "hospital_code": str(his.get("hospital_code") or ""), "action": ACTIONS[action],
        "booking_id": str(booking["id"]), "booking_his_no": str(booking.get("his_reference") or "")[:64],
        "patient_name": str(patient.get("name") or "")[:40],
        "patient_sex": {"male": "M", "female": "F"}.get(sex, sex[:1].upper()),
        "patient_birth_date": _day(patient.get("birth_date")), "patient_id_number": str(id_number)[:18],
        "patient_card_no": str(patient.get("card_no") or "")[:40],
        "department_code": str(his.get("department_code") or "")[:20],
        "department_name": str(booking.get("department_name") or "")[:60],
        "doctor_code": str(his.get("doctor_code") or "")[:40], "doctor_name": str(booking.get("doctor_name") or "")[:40],
        "campus_code": str(his.get("campus_code") or "")[:40], "clinic_date": _day(booking.get("date")),
        "half_day": str(booking.get("half_day") or "")[:8], "start_time": _clock(booking.get("start")),
        "end_time": _clock(booking.get("end")), "previous_date": None, "previous_start": None, "previous_doctor": "",
        "fee_fen": booking.get("fee_fen"), "channel": str(booking.get("channel") or "")[:20],
        "pay_kind": "", "pay_provider": "", "pay_reference": "", "refund_of": "", "amount_fen": None, "fee_item_nos": "",
        "reason": str(booking.get("cancel_reason") or "取消预约")[:200] if action == "cancel" else "",
    }
    if previous is not None:
        prev_his = previous.get("his") or {}
        row.update(previous_date=_day(previous.get("date")), previous_start=_clock(previous.get("start")),
                   previous_doctor=str(prev_his.get("doctor_code") or "")[:40], reason="改约")
    if money is not None:
        row.update(pay_kind=str(money.get("kind") or "registration")[:20], pay_provider=str(money.get("provider") or "")[:20],
                   pay_reference=str(money.get("reference") or "")[:64], amount_fen=money.get("amount_fen"),
                   refund_of=str(money.get("payment_reference") or "")[:64] if action == "refund" else "",
                   fee_item_nos=",".join(str(i) for i in money.get("items") or [])[:1000])
    return row


class MidtableHis(HisAdapter):
    """Rows in the hospital's intermediate tables (see the module)."""

    name = NAME
    verbose_name = "中间表"
    operations = frozenset({"book", "cancel", "move", "payment", "refund", "schedules", "visits", "fees", "health"})
    supports_pull = True

    def __init__(self) -> None:
        self._rt: weakref.ReferenceType | None = None

    def attach_runtime(self, rt) -> None:
        """The platform's runtime, for the plugin's own tables (core hands it before a pull)."""
        self._rt = weakref.ref(rt)

    def runtime(self):
        from . import runtime

        found = self._rt() if self._rt is not None else None
        return found if found is not None else runtime.current()

    # --- pushes -------------------------------------------------------------------------

    async def push_booking(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        return await self.push("book", booking, settings, secrets)

    async def push_cancellation(self, city, booking: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        return await self.push("cancel", booking, settings, secrets)

    async def push_move(self, city, booking: dict, previous: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        was, now = (f"{v.get('session_id')}-{v.get('period_id')}" for v in (previous, booking))
        detail = f"{was}>{now}"
        return await self.push("move", booking, settings, secrets, detail=detail, previous=previous)

    async def push_payment(self, city, booking: dict, payment: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        return await self.push("payment", booking, settings, secrets, detail=str(payment.get("reference") or ""),
                               money=payment)

    async def push_refund(self, city, booking: dict, refund: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        return await self.push("refund", booking, settings, secrets, detail=str(refund.get("reference") or ""),
                               money=refund)

    async def push(self, action: str, booking: Mapping, settings: Mapping, secrets: Mapping, *, detail: str = "",
                   previous: Mapping | None = None, money: Mapping | None = None) -> HisAck:
        """Write the row of one push (once) and read the HIS's answer (see the module)."""
        rid = request_id(action, booking, detail)
        row = request_row(action, booking, settings, rid=rid, previous=previous, money=money)
        # A database that accepts the connection but never answers must not hold a worker.
        limit = 2 * float(settings.get("timeout") or 5) + float(settings.get("ack_wait") or 0)
        try:
            return await asyncio.wait_for(self._exchange(action, booking, row, settings, secrets), limit)
        except asyncio.TimeoutError:
            name = database.where(str(settings.get("url") or ""))
            raise HisUnavailable(f"intermediate database {name} did not answer within {limit:g} s") from None

    async def _exchange(self, action: str, booking: Mapping, row: dict, settings: Mapping, secrets: Mapping) -> HisAck:
        rid = row["request_id"]
        t = tables(settings).request
        columns = list(row)
        insert = text(f"INSERT INTO {t} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})")
        async with database.connect(settings, secrets, begin=False) as conn:
            try:
                async with conn.begin():
                    await conn.execute(insert, row)
            except IntegrityError:
                pass  # written by an earlier attempt: its row is the one the HIS works on
            deadline = clock.monotonic() + float(settings.get("ack_wait") or 0)
            while True:
                async with conn.begin():
                    answer = (await conn.execute(
                        text(f"SELECT status, his_no, his_message FROM {t} WHERE request_id = :rid"), {"rid": rid}
                    )).mappings().first()
                if answer is None:
                    raise HisUnavailable(f"request {rid} is not in {t} after it was written")
                status = str(answer["status"] or "").upper()
                message = str(answer["his_message"] or "")
                if status == "DONE":
                    return HisAck(reference=str(answer["his_no"] or booking.get("his_reference") or ""),
                                  message=message or "已受理")
                if status == "ERROR":
                    raise HisRejected(f"HIS refused {ACTIONS[action]} {rid}: {message or 'no reason given'}")
                if clock.monotonic() >= deadline:
                    raise HisPending(f"{ACTIONS[action]} {rid} written to {t}, the HIS has not processed it yet "
                                     f"(status {status or '?'})")
                await asyncio.sleep(POLL_SECONDS)

    # --- health -------------------------------------------------------------------------

    async def health(self, city, settings: Mapping, secrets: Mapping) -> HisHealth:
        """Connects and reads nothing from each agreed table; reports how long it took."""
        started = clock.perf_counter()
        name = database.where(str(settings.get("url") or ""))
        try:
            async with database.connect(settings, secrets) as conn:
                for t in tables(settings).all():
                    await conn.execute(text(f"SELECT 1 FROM {t} WHERE 1 = 0"))
        except HisUnavailable as exc:
            return HisHealth(ok=False, detail=str(exc))
        ms = (clock.perf_counter() - started) * 1000
        return HisHealth(ok=True, detail=f"intermediate database {name} answers", latency_ms=round(ms, 1))

    # --- pulls --------------------------------------------------------------------------

    async def _follow(self, city, hospital_code: str, table: str, settings: Mapping, secrets: Mapping, keep):
        his_table = getattr(tables(settings), table)
        return await reader.follow(self.runtime(), city, hospital_code=hospital_code, table=table, his_table=his_table,
                                   settings=settings, secrets=secrets, keep=keep)

    async def pull_schedules(
        self, city, hospital_code: str, date_from: date, date_to: date, settings: Mapping, secrets: Mapping
    ) -> list[ScheduleItem]:
        """What the HIS publishes for these days: one item per ``session_no``, its ``OPEN``
        rows as periods; a session whose rows are all ``STOPPED`` is ``suspended`` (停诊)."""
        await self._follow(city, hospital_code, "schedule", settings, secrets, keep_schedule)
        rows = await reader.kept_rows(self.runtime(), city, hospital_code, "schedule", day_from=date_from, day_to=date_to)
        return schedule_items(rows)

    async def pull_visit_status(self, city, hospital_code: str, day: date, settings: Mapping,
                                secrets: Mapping) -> list[VisitStatus]:
        """The latest thing the HIS wrote of each booking's visit on ``day``."""
        await self._follow(city, hospital_code, "visit", settings, secrets, keep_visit)
        rows = await reader.kept_rows(self.runtime(), city, hospital_code, "visit", day_from=day, day_to=day)
        latest: dict[str, VisitStatus] = {}
        for r in rows:  # version order: the last one wins
            d = r.data
            at = _utc(d.get("event_time"), city)
            latest[r.booking_id] = VisitStatus(booking_id=r.booking_id, outcome=OUTCOMES.get(str(d.get("outcome")), "unknown"),
                                               at=at, reference=str(d.get("his_no") or ""))
        return list(latest.values())

    async def pull_fee_items(self, city, hospital_code: str, patient: dict, settings: Mapping,
                             secrets: Mapping) -> list[FeeItem]:
        """The patient's ``UNPAID`` items, found by ID number or card number."""
        await self._follow(city, hospital_code, "fee_item", settings, secrets, keep_fee_item)
        keys = [k for k in (reader.patient_key("id", str(patient.get("id_number") or "")),
                            reader.patient_key("card", str(patient.get("card_no") or ""))) if k]
        if not keys:
            return []
        rows = await reader.kept_rows(self.runtime(), city, hospital_code, "fee_item", patient_keys=keys)
        return [FeeItem(item_id=str(r.data["item_no"]), kind=str(r.data["kind"]), name=str(r.data["name"]),
                        amount_fen=int(r.data["amount_fen"]), quantity=str(r.data.get("quantity") or "1"),
                        visit_reference=str(r.data.get("visit_no") or ""), booking_id=r.booking_id,
                        department=str(r.data.get("department") or ""), status="unpaid")
                for r in rows if r.data.get("status") == "UNPAID"]


def _utc(local: str | None, city: CityContext) -> datetime | None:
    if not local:
        return None
    at = datetime.fromisoformat(local)
    return (at if at.tzinfo else at.replace(tzinfo=city.tz)).astimezone(UTC)


# --- what is kept of each HIS row ---------------------------------------------------------------


def keep_schedule(row: reader.Row) -> reader.Kept:
    return reader.Kept(day=_day(row["clinic_date"]), data={
        "session_no": str(row["session_no"]), "period_no": int(row["period_no"] or 0),
        "department_code": str(row.get("department_code") or ""), "doctor_code": str(row.get("doctor_code") or ""),
        "doctor_name": str(row.get("doctor_name") or ""), "campus_code": str(row.get("campus_code") or ""),
        "half_day": str(row["half_day"] or ""), "start": _hhmm(row["start_time"]), "end": _hhmm(row["end_time"]),
        "fee_fen": None if row.get("fee_fen") is None else int(row["fee_fen"]),
        "pools": {pool: int(row.get(column) or 0) for column, pool in POOLS},
        "booked": int(row.get("booked") or 0), "status": str(row["status"] or "").upper(),
        "stop_reason": str(row.get("stop_reason") or ""),
    })


def keep_visit(row: reader.Row) -> reader.Kept:
    at = row.get("event_time")
    return reader.Kept(day=_day(row["clinic_date"]), booking_id=str(row["booking_id"]), data={
        "outcome": str(row["outcome"] or "").upper(), "his_no": str(row.get("his_no") or ""),
        "event_time": at.isoformat() if isinstance(at, datetime) else (str(at) if at else None),
    })


def keep_fee_item(row: reader.Row) -> reader.Kept:
    key = reader.patient_key("id", str(row.get("patient_id_number") or "")) or \
        reader.patient_key("card", str(row.get("patient_card_no") or ""))
    kind = str(row.get("kind") or "other").lower()
    return reader.Kept(booking_id=str(row.get("booking_id") or ""), patient_key=key, data={
        "item_no": str(row["item_no"]), "visit_no": str(row.get("visit_no") or ""),
        "kind": kind if kind in FEE_KINDS else "other", "name": str(row["item_name"]),
        "quantity": str(row.get("quantity") or "1"), "amount_fen": int(row["amount_fen"]),
        "department": str(row.get("department_name") or ""), "status": str(row["status"] or "").upper(),
    })


def schedule_items(rows) -> list[ScheduleItem]:
    """The kept schedule rows of a range as one :class:`ScheduleItem` per HIS session."""
    sessions: dict[tuple, list] = {}
    for r in rows:  # a session_no reused on another day is another session
        sessions.setdefault((str(r.data["session_no"]), r.day), []).append(r)
    items = []
    for (session_no, _), group in sessions.items():
        group.sort(key=lambda r: (r.data["start"], r.data["period_no"]))
        first = group[0].data
        open_rows = [r for r in group if r.data["status"] != "STOPPED"]
        pools = [{k: v for k, v in r.data["pools"].items() if k == "public" or v > 0} for r in open_rows]
        fee = next((r.data["fee_fen"] for r in group if r.data["fee_fen"] is not None), None)
        stopped = not open_rows
        items.append(ScheduleItem(
            doctor_code=first["doctor_code"] or first["doctor_name"], date=group[0].day, half_day=first["half_day"],
            periods=[{"start": r.data["start"], "end": r.data["end"], "pools": p} for r, p in zip(open_rows, pools, strict=True)],
            department_code=first["department_code"], campus_code=first["campus_code"], fee_fen=fee,
            status="suspended" if stopped else "open",
            reason=next((r.data["stop_reason"] for r in group if r.data["stop_reason"]), "") if stopped else "",
            reference=session_no,
        ))
    return items
