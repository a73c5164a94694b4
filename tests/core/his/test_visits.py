"""The visit sweep (R4.1): what the HIS saw of a day's visits checks bookings in or makes them
no-shows with their credit consequences (R4.3)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from guahao.core.his.sync import sweep_visits
from guahao.core.jobs import drain_in_process
from guahao.core.models import Booking, CreditEvent, HisSyncRun, Member
from guahao.core.plugins.interfaces import HisAck, HisAdapter, VisitStatus
from guahao.plugins.his.demo import report_check_in
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.core.jobs.test_handlers import book
from tests.core.plugins.probes import make_member

from .helpers import demo_settings


class Silent(HisAdapter):
    """A HIS that saw nobody and says its list is complete."""

    name = "silent"
    operations = frozenset({"book", "cancel", "visits"})
    visits_complete = True

    def __init__(self, seen: tuple[str, ...] = ()):
        self.seen = seen

    async def push_booking(self, *a):
        return HisAck()

    async def push_cancellation(self, *a):
        return HisAck()

    async def pull_visit_status(self, city, hospital_code, day, settings, secrets):
        return [VisitStatus(b, "checked_in") for b in self.seen]


async def _rows(rt, city, model, *where):
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(model).where(*where).order_by(model.id))).all())


async def test_the_demo_his_reports_no_shows_and_visits_it_saw(rt, city, catalogue):
    h = catalogue.hospital
    city = await demo_settings(rt, city, h.id, no_show_percent=100)
    session = catalogue.sessions[0]
    first, second = catalogue.periods[session.id]
    absent, present = await make_member(rt, city, name="孙三"), await make_member(rt, city, name="周四")
    gone = await book(rt, city, absent, first.id)
    came = await book(rt, city, present, second.id)
    await report_check_in(rt, city, came.id)
    await drain_in_process(rt, city_id=city.id)  # the pushes: what the demo HIS knows

    later = second.ends_at + timedelta(minutes=1)
    with frozen(later), use_city(city):
        run = await sweep_visits(rt, h.id, session.date)

    assert (run.outcome, run.items, run.details["no_shows"], run.details["checked_in"]) == ("ok", 2, 1, 0)
    [b_gone] = await _rows(rt, city, Booking, Booking.id == gone.id)
    [b_came] = await _rows(rt, city, Booking, Booking.id == came.id)
    assert (str(b_gone.status), str(b_came.status)) == ("no_show", "checked_in")
    events = await _rows(rt, city, CreditEvent, CreditEvent.member_id == absent.id)
    assert [e.kind for e in events] == ["no_show", "suspended"]

    with frozen(later), use_city(city):
        again = await sweep_visits(rt, h.id, session.date)
    assert again.changed == 0 and len(await _rows(rt, city, CreditEvent, CreditEvent.member_id == absent.id)) == 2


async def test_missing_visits_become_no_shows_and_a_repeat_climbs_the_credit_ladder(rt, city, catalogue):
    h = catalogue.hospital
    member, other = await make_member(rt, city, name="吴五"), await make_member(rt, city, name="郑六")
    first_day, second_day = catalogue.sessions[0], catalogue.sessions[2]  # doctor 1 on day 1 and day 2
    one = await book(rt, city, member, catalogue.periods[first_day.id][0].id)
    seen = await book(rt, city, other, catalogue.periods[first_day.id][1].id)

    end_one = catalogue.periods[first_day.id][1].ends_at + timedelta(minutes=5)
    with frozen(end_one), use_city(city):
        run = await sweep_visits(rt, h.id, first_day.date, adapter=Silent(seen=(seen.id,)))
    assert (run.details["not_seen"], run.details["checked_in"]) == (1, 1)
    [m] = await _rows(rt, city, Member, Member.id == member.id)
    first_until = m.suspended_until
    assert first_until is not None and abs((first_until - end_one) - timedelta(days=30)) < timedelta(minutes=1)

    # The suspension ends; the member books again and misses that visit too.
    with use_city(city):
        async with rt.db.transaction() as s:
            row = await s.get(Member, member.id)
            row.suspended_until = utcnow() - timedelta(seconds=1)
    two = await book(rt, city, member, catalogue.periods[second_day.id][0].id)
    end_two = two.ends_at + timedelta(minutes=5)
    with frozen(end_two), use_city(city):
        await sweep_visits(rt, h.id, second_day.date, adapter=Silent())

    assert {str(b.status) for b in await _rows(rt, city, Booking, Booking.id.in_([one.id, two.id]))} == {"no_show"}
    [m] = await _rows(rt, city, Member, Member.id == member.id)
    assert abs((m.suspended_until - end_two) - timedelta(days=60)) < timedelta(minutes=1)
    suspensions = [e for e in await _rows(rt, city, CreditEvent, CreditEvent.member_id == member.id)
                   if e.kind == "suspended"]
    assert [e.detail["nth"] for e in suspensions] == [1, 2]


async def test_a_his_that_does_not_answer_fails_the_run_and_blocks_nothing(rt, city, catalogue):
    import pytest

    from guahao.core.his.sync import SyncFailed

    class Down(Silent):
        async def pull_visit_status(self, *a):
            raise TimeoutError("no answer")

    session = catalogue.sessions[0]
    member = await make_member(rt, city)
    booking = await book(rt, city, member, catalogue.periods[session.id][0].id)
    with use_city(city), pytest.raises(SyncFailed):
        await sweep_visits(rt, catalogue.hospital.id, session.date, adapter=Down())
    [run] = await _rows(rt, city, HisSyncRun, HisSyncRun.kind == "visits")
    assert run.outcome == "failed" and run.error
    [b] = await _rows(rt, city, Booking, Booking.id == booking.id)
    assert str(b.status) == "confirmed"
