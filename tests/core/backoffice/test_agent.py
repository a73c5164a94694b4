"""Call-centre agents (R5.3, R12.2): find, verify, summarise, book / cancel / move for callers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from guahao.core import audit
from guahao.core.backoffice import agent as calls
from guahao.core.backoffice import patients
from guahao.core.errors import DomainError
from guahao.core.models import Booking, BookingEvent
from guahao.tenants.context import use_city
from tests.core.booking.helpers import booking, reserve

from .conftest import register_member


async def call_events(rt, city, booking_id):
    with use_city(city):
        async with rt.db.transaction() as s:
            rows = await s.scalars(select(BookingEvent).where(BookingEvent.booking_id == booking_id,
                                                              BookingEvent.kind == "agent_call"))
            return [(e.actor, e.data) for e in rows]


async def test_find_and_verify_a_caller(rt, city, agent):
    member_id, number, phone = await register_member(rt, city, name="李秀兰")
    with use_city(city):
        by_phone = await patients.find_patient(rt, phone)
        by_id = await patients.find_patient(rt, f" {number.lower()} ")
        assert by_phone == by_id and by_phone.member_id == member_id
        assert by_phone.name == "李**" and by_phone.phone == f"{phone[:3]}****{phone[-4:]}"
        assert by_phone.id_number == number[:4] + "*" * 10 + number[-4:]
        assert await patients.find_patient(rt, "+86 199-0000-0000") is None
        with pytest.raises(DomainError) as err:
            await patients.find_patient(rt, "张三")
        assert err.value.code == "invalid_lookup"
        assert await calls.verify_identity(rt, member_id, name="李秀兰", id_last4=number[-4:].lower(), actor=agent)
        assert not await calls.verify_identity(rt, member_id, name="李秀兰", id_last4="0000", actor=agent)
        assert not await calls.verify_identity(rt, member_id, name="李秀", id_last4=number[-4:], actor=agent)
        async with rt.db.transaction() as s:
            checks = await audit.search(s, action="agent.identity_check")
    assert [c.after["passed"] for c in checks] == [False, False, True]


async def test_guessing_the_last_four_digits_is_stopped(rt, city, agent):
    member_id, number, _ = await register_member(rt, city, name="王建国")
    with use_city(city):
        wrong = [g for g in ("0000", "0001", "0002", "0003", "0004", "0005") if g != number[-4:].upper()][:5]
        for guess in wrong:
            assert not await calls.verify_identity(rt, member_id, name="王建国", id_last4=guess, actor=agent)
        with pytest.raises(DomainError) as err:  # even the right answer now waits
            await calls.verify_identity(rt, member_id, name="王建国", id_last4=number[-4:], actor=agent)
    assert err.value.code == "identity_check_locked" and err.value.status == 429


async def test_book_cancel_and_move_on_behalf_of_a_caller(rt, city, catalogue, agent):
    member_id, _, _ = await register_member(rt, city)
    first, second = catalogue.sessions[0], catalogue.sessions[2]
    p1, p2 = catalogue.periods[first.id][0], catalogue.periods[second.id][1]
    with use_city(city):
        with pytest.raises(DomainError) as err:
            await calls.book_for_caller(rt, member_id=member_id, period_id=p1.id, recording_ref=" ", actor=agent)
        assert err.value.code == "recording_required"
        view = await calls.book_for_caller(rt, member_id=member_id, period_id=p1.id, recording_ref="REC-0001", actor=agent)
    made = await booking(rt, city, view["id"])
    assert (made.channel, made.created_by, made.status) == ("phone", "agent:21", "confirmed")
    assert await call_events(rt, city, made.id) == [
        ("agent:21", {"action": "book", "recording_ref": "REC-0001", "agent": "话务员小王"})
    ]

    with use_city(city):
        moved = await calls.move_for_caller(rt, member_id=member_id, booking_id=made.id.lower(), period_id=p2.id,
                                            recording_ref="REC-0002", actor=agent)
    assert (await booking(rt, city, made.id)).status == "cancelled"
    assert moved["period_id"] == p2.id and moved["status"] == "confirmed"
    assert (await call_events(rt, city, moved["id"]))[0][1]["action"] == "move_to"

    # a refused new booking leaves the old one standing: the target period is full
    full = catalogue.periods[first.id][1]
    for _ in range(2):
        other, _, _ = await register_member(rt, city)
        await reserve(rt, city, other, full.id)
    with use_city(city):
        with pytest.raises(DomainError) as err:
            await calls.move_for_caller(rt, member_id=member_id, booking_id=moved["id"], period_id=full.id,
                                        recording_ref="REC-0003", actor=agent)
        assert err.value.code == "slot_full"
    assert (await booking(rt, city, moved["id"])).status == "confirmed"

    with use_city(city):
        cancelled = await calls.cancel_for_caller(rt, member_id=member_id, booking_id=moved["id"],
                                                  recording_ref="REC-0004", actor=agent)
        assert cancelled["status"] == "cancelled"
        other, _, _ = await register_member(rt, city)
        with pytest.raises(DomainError) as err:  # another member's booking is not found
            await calls.cancel_for_caller(rt, member_id=other, booking_id=made.id, recording_ref="R", actor=agent)
        assert err.value.code == "not_found"
        summary = await calls.caller_summary(rt, member_id)
        async with rt.db.transaction() as s:
            actions = [e.action for e in await audit.search(s, actor="staff:21")]
    assert summary.upcoming == [] and {b["id"] for b in summary.cancelled} == {made.id, moved["id"]}
    assert summary.credit["status"] == "good" and summary.patient.member_id == member_id
    assert actions == ["agent.cancel", "agent.move", "agent.book"]


async def test_agent_bookings_follow_the_members_rules(rt, city, catalogue, agent):
    member_id, _, _ = await register_member(rt, city)
    cs = catalogue.sessions[0]
    with use_city(city):
        await calls.book_for_caller(rt, member_id=member_id, period_id=catalogue.periods[cs.id][0].id,
                                    recording_ref="REC-1", actor=agent)
        with pytest.raises(DomainError) as err:
            await calls.book_for_caller(rt, member_id=member_id, period_id=catalogue.periods[cs.id][1].id,
                                        recording_ref="REC-2", actor=agent)
        assert err.value.code == "duplicate_session"
        async with rt.db.transaction() as s:
            assert len((await s.scalars(select(Booking).where(Booking.member_id == member_id))).all()) == 1
