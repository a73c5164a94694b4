"""Booking for channels that name a date and half-day rather than a period: the open sessions
of a day, booking the first free period among them, and a booking as a channel states it.

Every booking, cancel and list goes through ``core.booking.service`` — the same engine, rules,
gate and idempotency as the web — with the channel's own name recorded on the booking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, tuple_

from guahao.core.booking import errors, service
from guahao.core.catalogue import queries
from guahao.core.catalogue.places import place_label
from guahao.core.errors import DomainError
from guahao.core.models import HOLDING, Booking, IdempotencyRecord, Period
from guahao.tenants.context import require_city

HALF_DAY_NAMES = {"am": "上午", "pm": "下午", "evening": "晚上"}
WEEKDAYS = "一二三四五六日"
MAX_TRIES = 5  # periods tried when the one chosen sells out under us


@dataclass(frozen=True)
class Slot:
    """An open session of the day with its free public units: the doctor, the half-day, the
    place, the fee, whether its units are released yet, and its periods with units left."""

    session_id: int
    doctor_id: int
    doctor_name: str
    half_day: str
    fee_fen: int
    released: bool
    release_at: str
    place: dict
    free_periods: tuple[int, ...]
    remaining: int

    @property
    def campus(self) -> str:
        """The campus's name (``本部``), as a phone menu reads it out; empty when unnamed."""
        return str((self.place or {}).get("name") or "")

    @property
    def fee(self) -> str:
        return f"{self.fee_fen // 100}.{self.fee_fen % 100:02d}元"


async def find_slots(
    rt, *, department_id: int, day: date, half_day: str = "", doctor_id: int | None = None
) -> list[Slot]:
    """The department's (or the doctor's) open sessions on ``day``, of ``half_day`` when given,
    in start time order, as the public availability lists them (booking window and cut-off
    applied)."""
    async with rt.db.transaction() as s:
        items = await queries.availability(s, department_id=department_id, doctor_id=doctor_id, date_from=day, date_to=day)
    slots = []
    for item in items:
        if half_day and item["half_day"] != half_day:
            continue
        free = tuple(p["period_id"] for p in item["periods"] if p["remaining"] > 0)
        slots.append(Slot(
            session_id=item["session_id"], doctor_id=item["doctor_id"], doctor_name=item["doctor_name"],
            half_day=str(item["half_day"]), fee_fen=item["fee_fen"], released=item["released"],
            release_at=item["release_at"], place=item["campus"], free_periods=free,
            remaining=sum(p["remaining"] for p in item["periods"]),
        ))
    return slots


async def book_first_free(
    rt, *, member_id: int, slots: list[Slot], channel: str, idempotency_key: str | None = None
) -> dict:
    """Book the first free period of ``slots`` for the member (``service.book``): the booking
    as the API shows it. A period that sells out meanwhile passes the turn to the next one; the
    last refusal (``slot_full``, ``too_many_active``, ``credit_suspended``…) is raised as it
    came.

    With ``idempotency_key`` (one per request the channel received, e.g. per inbound message)
    the request books at most once, however often it is repeated and whichever periods are
    free by then: each attempt is keyed ``<key>:<period id>``, and a booking already made under
    the key is returned before anything else is tried."""
    if idempotency_key:
        earlier = await _booked_under(rt, member_id, idempotency_key)
        if earlier is not None:
            return earlier
    periods = [p for slot in slots if slot.released for p in slot.free_periods]
    if not periods:
        unreleased = [slot for slot in slots if not slot.released and slot.free_periods]
        if unreleased:
            raise errors.not_released(datetime.fromisoformat(unreleased[0].release_at.replace("Z", "+00:00")))
        raise errors.slot_full(0)
    last: DomainError | None = None
    for period_id in periods[:MAX_TRIES]:
        try:
            body, _status, _replayed = await service.book(
                rt, member_id=member_id, period_id=period_id, channel=channel,
                idempotency_key=f"{idempotency_key}:{period_id}" if idempotency_key else None,
            )
            return body
        except DomainError as exc:
            if exc.code != "slot_full":
                raise
            last = exc
    assert last is not None
    raise last


async def _booked_under(rt, member_id: int, key: str) -> dict | None:
    """The booking an earlier attempt of the same request made (its stored response), if any."""
    async with rt.db.transaction() as s:
        return await s.scalar(
            select(IdempotencyRecord.response)
            .where(IdempotencyRecord.owner == f"member:{member_id}",
                   IdempotencyRecord.key.startswith(f"{key}:", autoescape=True))
            .order_by(IdempotencyRecord.id).limit(1)
        )


@dataclass(frozen=True)
class BookingSummary:
    """A booking as a channel states it: reference, status, hospital, place (campus and
    address), department, doctor, date, half-day and time, queue number, fee and how it is
    paid, the payment deadline of a held booking."""

    ref: str
    status: str
    hospital: str
    place: str
    department: str
    doctor: str
    day: date
    half_day: str
    start: str
    end: str
    queue_no: int
    fee_fen: int
    payment_status: str
    hold_expires_at: datetime | None = None

    @property
    def when(self) -> str:
        d = self.day
        return f"{d.month}月{d.day}日（周{WEEKDAYS[d.weekday()]}）{HALF_DAY_NAMES.get(self.half_day, '')}{self.start}-{self.end}"

    @property
    def fee(self) -> str:
        return f"{self.fee_fen // 100}.{self.fee_fen % 100:02d}元"


async def _queue_numbers(s, bookings: list[dict]) -> dict[str, int]:
    """Each booking's number among the holding bookings of its session, in order of period
    start, then of booking (the order patients are seen in)."""
    numbers: dict[str, int] = {}
    for b in bookings:
        own = await s.execute(select(Period.starts_at, Booking.created_at).join(Period, Period.id == Booking.period_id)
                              .where(Booking.id == b["id"]))
        starts_at, created_at = own.one()
        ahead = await s.scalar(
            select(func.count()).select_from(Booking).join(Period, Period.id == Booking.period_id)
            .where(Booking.session_id == b["session_id"], Booking.status.in_(HOLDING),
                   tuple_(Period.starts_at, Booking.created_at, Booking.id) < tuple_(starts_at, created_at, b["id"]))
        )
        numbers[b["id"]] = int(ahead or 0) + 1
    return numbers


async def summaries(rt, bookings: list[dict]) -> list[BookingSummary]:
    """Summaries of bookings as ``core.booking.service`` returns them (the API's shape)."""
    if not bookings:
        return []
    async with rt.db.transaction() as s:
        numbers = await _queue_numbers(s, bookings)
    return [
        BookingSummary(
            ref=b["id"], status=b["status"], hospital=b["hospital_name"],
            place=place_label(b["campus"]), department=b["department_name"], doctor=b["doctor_name"],
            day=date.fromisoformat(str(b["date"])), half_day=b["half_day"], start=b["start"], end=b["end"],
            queue_no=numbers[b["id"]], fee_fen=b["fee_fen"], payment_status=b["payment_status"],
            hold_expires_at=datetime.fromisoformat(b["hold_expires_at"].replace("Z", "+00:00"))
            if b.get("hold_expires_at") else None,
        )
        for b in bookings
    ]


async def summary(rt, booking: dict) -> BookingSummary:
    """One booking (the API's shape) as a channel states it."""
    return (await summaries(rt, [booking]))[0]


async def cancel(rt, *, member_id: int, ref: str, reason: str = "") -> BookingSummary:
    """Cancel the member's own booking by its reference (typed loosely) under the city's
    cancel rules (``cancel_too_late``, ``not_found`` for another member's booking)."""
    body = await service.cancel_booking(rt, member_id=member_id, booking_id=ref, reason=reason)
    return await summary(rt, body)


async def upcoming(rt, *, member_id: int, limit: int = 5) -> list[BookingSummary]:
    """The member's upcoming bookings, soonest first (at most ``limit``)."""
    require_city()
    bookings = await service.list_bookings(rt, member_id=member_id, scope="upcoming")
    return await summaries(rt, bookings[:limit])

