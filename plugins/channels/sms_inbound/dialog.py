"""What an SMS asks is done and answered: the member is the owner of the sending phone, the
name must be theirs, and every booking, cancel and list goes through the platform's channel
services (``plugin_api.channels``) — the same engine and rules as the web, channel ``sms``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from guahao.plugin_api import DomainError, channels

from . import texts
from .grammar import Book, Cancel, Choose, Help, Invalid, OptOut, Query, Request

CHANNEL = "sms"


@dataclass
class Answer:
    """The reply text (empty: no reply) and what became of the message (``outcome``: ``booked``,
    ``cancelled``, ``listed``, ``help``, ``choices``, ``opted_out``, ``opted_in``,
    ``unknown_phone``, ``invalid:<code>`` or the refusal's code)."""

    text: str
    outcome: str
    booking_id: str = ""
    choices: dict = field(default_factory=dict)


def _request_dict(r: Book) -> dict:
    return {"name": r.name, "day": r.day.isoformat(), "hospital": r.hospital, "department": r.department,
            "doctor": r.doctor, "half_day": r.half_day}


def _from_dict(d: dict) -> Book:
    return Book(name=d["name"], day=date.fromisoformat(d["day"]), hospital=d["hospital"],
                department=d["department"], doctor=d.get("doctor", ""), half_day=d.get("half_day", ""))


async def answer(rt, city, member, request: Request, *, key: str, aliases: dict, pending: dict) -> Answer:
    """Act on ``request`` for ``member`` (a ``channels.ChannelMember`` or ``None`` for an unknown
    phone). ``key`` makes a booking idempotent (a redelivered message books once); ``pending``
    are the choices the member's previous reply offered."""
    if isinstance(request, Help):
        return Answer(texts.help_text(), "help")
    if isinstance(request, Invalid):
        return Answer(texts.invalid(request), f"invalid:{request.code}")
    if member is None:
        if isinstance(request, OptOut):  # nothing to stop; an unsubscribe is never answered with a pitch
            return Answer("", "unknown_phone")
        return Answer(texts.unknown_phone(city.name), "unknown_phone")
    if isinstance(request, OptOut):
        await channels.set_opt_out(rt, member.id, not request.subscribe)
        return (Answer(texts.opted_in(), "opted_in") if request.subscribe else Answer(texts.opted_out(), "opted_out"))
    if isinstance(request, Query):
        return Answer(texts.listed(await channels.upcoming(rt, member_id=member.id)), "listed")
    if isinstance(request, Cancel):
        try:
            done = await channels.cancel(rt, member_id=member.id, ref=request.ref, reason="sms")
        except DomainError as exc:
            return Answer(texts.cancel_refused(exc.message), exc.code)
        return Answer(texts.cancelled(done), "cancelled", done.ref)
    if isinstance(request, Choose):
        options = pending.get("options") or []
        if not pending or not 1 <= request.number <= len(options):
            return Answer(texts.nothing_to_choose(), "invalid:no_choice")
        chosen = {**pending["request"], pending["field"]: options[request.number - 1]}
        request = _from_dict(chosen)
    assert isinstance(request, Book)
    return await _book(rt, city, member, request, key=key, aliases=aliases)


def _one(field: str, text: str, found: list, request: Book, label=lambda c: c.name, value=lambda c: c.code):
    """``(choice, None)`` when ``found`` holds one, else ``(None, Answer)`` naming the problem."""
    if len(found) == 1:
        return found[0], None
    if not found:
        return None, Answer(texts.not_found(field, text), f"{field}_not_found")
    return None, Answer(texts.choose(field, text, [label(c) for c in found]), "choices",
                        choices={"field": field, "options": [value(c) for c in found], "request": _request_dict(request)})


async def _book(rt, city, member, request: Book, *, key: str, aliases: dict) -> Answer:
    if not channels.name_matches(member, request.name):
        return Answer(texts.name_mismatch(request.name), "name_mismatch")
    hospital, problem = _one("hospital", request.hospital,
                                   await channels.find_hospitals(rt, request.hospital, aliases=aliases), request)
    if problem:
        return problem
    department, problem = _one("department", request.department,
                                     await channels.find_departments(rt, hospital.id, request.department), request)
    if problem:
        return problem
    doctor = None
    if request.doctor:
        doctor, problem = _one("doctor", request.doctor,
                                     await channels.find_doctors(rt, hospital.id, department.id, request.doctor), request,
                                     label=lambda c: f"{c.name}{c.detail}", value=lambda c: c.name)
        if problem:
            return problem
    slots = await channels.find_slots(rt, department_id=department.id, day=request.day, half_day=request.half_day,
                                      doctor_id=doctor.id if doctor else None)
    if not slots:
        what = f"{hospital.name}{department.name}{doctor.name if doctor else ''}"
        return Answer(texts.no_session(what, request.day, request.half_day), "no_session")
    try:
        booking = await channels.book_first_free(rt, member_id=member.id, slots=slots, channel=CHANNEL,
                                                 idempotency_key=key)
    except DomainError as exc:
        return Answer(texts.refused(exc.message), exc.code)
    done = await channels.summary(rt, booking)
    return Answer(texts.booked(done, city.tz), "booked", done.ref)
