"""The demo city's past months (``core.demo.history``): rows the booking engine could have written.

One city is seeded for the module under a test slug with a short history; each test checks an
invariant over all of it: pools against their bookings, every booking's event trail, members'
real-name identities, the booking rules at the instant each booking was made, credit records
against no-shows, messages, suspended sessions, no outbox rows, the rollups and the shapes.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from guahao.core.booking.credit import window_of
from guahao.core.demo import seed_demo
from guahao.core.demo.history import BulkWriter
from guahao.core.members.ids import validate_id_number
from guahao.core.models import (
    Booking,
    BookingEvent,
    ClinicSession,
    Complaint,
    CreditEvent,
    Department,
    Doctor,
    Hospital,
    Member,
    Notification,
    OutboxMessage,
    Period,
    Referral,
    ReportRollup,
    ScheduleChange,
    SlotPool,
    SurveyResponse,
)
from guahao.core.reports import ReportFilter, bookings_report
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.crypto import cipher

DAYS = 7  # enough of every kind of row; the demo itself seeds HISTORY_DAYS
OUTCOMES = {"checked_in", "no_show", "cancelled"}


def _aware(at: datetime | None) -> datetime | None:
    """SQLite returns naive UTC instants."""
    return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)


@pytest.fixture(scope="module")
async def seeded(rt):
    report = await seed_demo(rt, slug=f"hist-{uuid.uuid4().hex[:8]}", days=1, history_days=DAYS)
    city = report.city
    with use_city(city):
        async with rt.db.transaction() as s:
            rows = {
                "bookings": (await s.scalars(select(Booking))).all(),
                "events": (await s.scalars(select(BookingEvent).order_by(BookingEvent.id))).all(),
                "members": (await s.scalars(select(Member).order_by(Member.id))).all(),
                "credit": (await s.scalars(select(CreditEvent).order_by(CreditEvent.id))).all(),
                "notes": (await s.scalars(select(Notification))).all(),
                "sessions": (await s.scalars(select(ClinicSession))).all(),
                "pools": (await s.scalars(select(SlotPool))).all(),
                "hospitals": (await s.scalars(select(Hospital))).all(),
                "surveys": (await s.scalars(select(SurveyResponse))).all(),
                "complaints": (await s.scalars(select(Complaint))).all(),
                "changes": (await s.scalars(select(ScheduleChange))).all(),
                "referrals": (await s.scalars(select(Referral))).all(),
                "outbox": (await s.scalars(select(OutboxMessage))).all(),
                "rollup": await s.scalar(select(ReportRollup)),
            }
    return report, city, rows


async def test_report_counts_what_was_written(seeded):
    report, city, rows = seeded
    h = report.history
    today = utcnow().astimezone(city.tz).date()
    assert (h.first_day, h.last_day) == (today - timedelta(days=DAYS), today - timedelta(days=1))
    assert h.bookings == len(rows["bookings"]) > 500
    assert h.events == len(rows["events"]) and h.notifications == len(rows["notes"])
    assert set(h.by_status) == OUTCOMES and sum(h.by_status.values()) == h.bookings
    assert report.first_day == h.first_day and report.last_day == today
    assert h.suspended == len(rows["changes"]) > 0
    assert h.complaints == len(rows["complaints"]) > 0 and h.surveys == len(rows["surveys"]) > 0
    assert h.referrals == len(rows["referrals"]) > 0


async def test_pools_hold_what_their_bookings_took(seeded):
    """``booked`` is the count of bookings that took a unit and never gave it back (a
    cancellation gives it back; a no-show does not); reserved pools were released."""
    report, _, rows = seeded
    taking = Counter(b.pool_id for b in rows["bookings"] if b.status != "cancelled")
    past = {cs.id for cs in rows["sessions"] if cs.date <= report.history.last_day}
    pools = [p for p in rows["pools"] if p.session_id in past]
    assert pools and all(p.booked == taking.get(p.id, 0) for p in pools)
    assert all(0 <= p.booked <= p.capacity for p in rows["pools"])
    assert all(p.release_to_public_at is None for p in pools)
    assert all(p.capacity == p.booked for p in pools if p.pool in ("clinic", "referral"))
    by_id = {p.id: p for p in rows["pools"]}
    assert all(by_id[b.pool_id].period_id == b.period_id and by_id[b.pool_id].session_id == b.session_id
               for b in rows["bookings"])


async def test_every_booking_has_its_events_in_order(seeded):
    _, _, rows = seeded
    trail = defaultdict(list)
    for e in rows["events"]:
        trail[e.booking_id].append(e)
    pools = {p.id: p.pool for p in rows["pools"]}
    for b in rows["bookings"]:
        events = trail[b.id]
        kinds = [e.kind for e in events if e.kind != "agent_call"]
        assert kinds == ["created", "confirmed", {"checked_in": "checked_in", "no_show": "no_show",
                                                  "cancelled": "cancelled"}[b.status]], b.id
        ats = [_aware(e.at) for e in events]
        assert ats == sorted(ats) and ats[0] == _aware(b.created_at) and ats[-1] <= utcnow()
        assert events[0].data == {"pool": pools[b.pool_id]} and events[0].actor == b.created_by
        last = events[-1] if events[-1].kind != "agent_call" else events[-2]
        if b.status == "checked_in":
            assert last.data == {"at": _aware(b.checked_in_at).isoformat(), "late": b.late}
            assert _aware(b.checked_in_at) > _aware(b.created_at)
        elif b.status == "cancelled":
            assert last.data == ({"reason": b.cancel_reason} if b.cancel_reason else {})
            assert b.checked_in_at is None
        else:
            assert last.actor == "system" and _aware(last.at) >= _aware(b.ends_at)
        if b.channel == "phone":
            assert events[2].kind == "agent_call" and events[2].data["action"] == "book"
            assert b.created_by.startswith("agent:")
        assert b.payment_status == "none" and b.fee_fen > 0
        assert _aware(b.created_at) < _aware(b.starts_at)


async def test_members_have_valid_real_name_identities(seeded):
    _, city, rows = seeded
    members = rows["members"]
    assert len({m.phone for m in members}) == len(members) > 100
    for m in members:
        number = cipher().decrypt(m.id_number_encrypted)
        info = validate_id_number(number)
        assert (info.birth_date, info.sex) == (m.birth_date, m.sex)
        assert m.id_number_hash == cipher().lookup_hash(number)
        assert m.id_number_masked == number[:4] + "*" * 10 + number[-4:]
    first = {}
    for b in sorted(rows["bookings"], key=lambda b: b.created_at):
        first.setdefault(b.member_id, b.created_at)
    assert all(_aware(m.created_at) < _aware(first[m.id]) for m in members if m.id in first)
    by_id = {m.id: m for m in members}
    ages = [(b.session_date - by_id[b.member_id].birth_date).days / 365 for b in rows["bookings"]]
    assert min(ages) < 14 and max(ages) > 60


async def test_bookings_keep_the_engine_rules_when_they_were_made(seeded):
    """At its creation, each booking's member held fewer than ``max_active_bookings`` active
    bookings, no other of the same session, and was not suspended."""
    _, city, rows = seeded
    limit = city.rules.max_active_bookings
    by_member = defaultdict(list)
    for b in rows["bookings"]:
        by_member[b.member_id].append(b)
    cancelled_at = {e.booking_id: _aware(e.at) for e in rows["events"] if e.kind == "cancelled"}
    suspensions = defaultdict(list)
    for c in rows["credit"]:
        if c.kind == "suspended":
            suspensions[c.member_id].append((_aware(c.at), _aware(c.suspended_until)))
    for member_id, bookings in by_member.items():
        for b in bookings:
            t = _aware(b.created_at)
            active = 0
            for o in bookings:
                if o is b or _aware(o.created_at) > t:
                    continue
                ends = min(x for x in (cancelled_at.get(o.id), _aware(o.checked_in_at), _aware(o.starts_at)) if x)
                if ends > t:
                    active += 1
            assert active < limit, b.id
            assert not any(start <= t < until for start, until in suspensions[member_id]), b.id
        holding = Counter(o.session_id for o in bookings if o.status != "cancelled")
        assert max(holding.values(), default=0) <= 1


async def test_credit_records_follow_the_no_shows(seeded):
    _, city, rows = seeded
    no_shows = defaultdict(list)
    for b in rows["bookings"]:
        if b.status == "no_show":
            no_shows[b.member_id].append(b)
    credit = defaultdict(list)
    for c in rows["credit"]:
        credit[c.member_id].append(c)
    assert no_shows and set(no_shows) == set(credit)
    members = {m.id: m for m in rows["members"]}
    for member_id, bookings in no_shows.items():
        marks = [c for c in credit[member_id] if c.kind == "no_show"]
        assert sorted(c.booking_id for c in marks) == sorted(b.id for b in bookings)
        counted = Counter()
        for c in sorted(marks, key=lambda c: (c.at, c.id)):
            b = next(x for x in bookings if x.id == c.booking_id)
            label = window_of(city, _aware(b.ends_at))[2]
            counted[label] += 1
            assert c.detail == {"nth": counted[label], "window": label}
        suspended = [c for c in credit[member_id] if c.kind == "suspended"]
        assert len(suspended) == len(marks)  # the ladder's steps are all above 0 days
        m = members[member_id]
        assert _aware(m.suspended_until) == max(_aware(c.suspended_until) for c in suspended)
        assert m.suspension_reason == max(suspended, key=lambda c: (c.at, c.id)).detail["reason"]
        assert "次爽约" in m.suspension_reason
    demo = [m for m in rows["members"] if m.registered_by == "demo"]
    assert demo and all(m.suspended_until is None and m.id not in no_shows for m in demo)
    assert any(b.member_id in {m.id for m in demo} for b in rows["bookings"])  # the demo logins have a past


async def test_messages_were_sent_and_nothing_is_left_to_send(seeded):
    _, city, rows = seeded
    notes = defaultdict(list)
    for n in rows["notes"]:
        notes[n.booking_id].append(n)
    now = utcnow()
    for b in rows["bookings"]:
        kinds = {n.kind for n in notes[b.id]}
        assert "booking_confirmed" in kinds
        if b.status == "cancelled":
            assert kinds & {"booking_cancelled", "session_suspended"}
        if b.status == "checked_in":
            assert "survey_invitation" in kinds
        for n in notes[b.id]:
            assert n.body.startswith(f"【{city.name}预约挂号】")
            assert b.id in n.body or n.kind == "credit_suspended"
            assert _aware(n.created_at) <= now
            assert (n.status, n.sender) in {("sent", "message_log"), ("skipped", "")}
            assert n.status == "sent" or (not n.essential and n.error)
    kinds = Counter(n.kind for n in rows["notes"])
    assert kinds["reminder_day_before"] > 0 and kinds["reminder_30min"] > 0 and kinds["credit_suspended"] > 0
    history = {b.id for b in rows["bookings"]}
    assert not [o for o in rows["outbox"] if o.topic in ("notify", "booking.event", "his.push")
                or (o.payload or {}).get("booking_id") in history]


async def test_suspended_sessions_cancelled_their_bookings(seeded):
    _, _, rows = seeded
    sessions = {cs.id: cs for cs in rows["sessions"]}
    suspended = {c.session_id for c in rows["changes"]}
    assert suspended and all(sessions[i].status == "suspended" and sessions[i].status_reason.startswith("停诊：")
                             for i in suspended)
    assert all(p.capacity == 0 and p.booked == 0 for p in rows["pools"] if p.session_id in suspended)
    for c in rows["changes"]:
        on = [b for b in rows["bookings"] if b.session_id == c.session_id]
        assert all(b.status == "cancelled" for b in on)
        assert c.cancelled == sum(1 for b in on if b.cancel_reason == "session_suspended")
        assert c.kind == "suspend" and c.actor.startswith(("staff:", "system"))


async def test_feedback_comes_after_visits(seeded):
    _, _, rows = seeded
    bookings = {b.id: b for b in rows["bookings"]}
    now = utcnow()
    for r in rows["surveys"]:
        b = bookings[r.booking_id]
        assert b.status == "checked_in" and b.member_id == r.member_id and b.session_date == r.visit_date
        assert _aware(b.ends_at) < _aware(r.created_at) <= min(now, _aware(b.ends_at) + timedelta(days=7))
        assert all(1 <= x <= 5 for x in (r.overall, r.waiting, r.attitude))
    for c in rows["complaints"]:
        b = bookings[c.booking_id]
        assert b.member_id == c.member_id and b.hospital_id == c.hospital_id
        assert _aware(c.created_at) > _aware(b.ends_at)
        if c.status == "submitted":
            assert c.replied_at is None and not c.reply
        else:
            assert c.reply and c.replied_by and _aware(c.created_at) < _aware(c.replied_at) <= now
        assert (c.status == "closed") == (c.closed_at is not None)
    for r in rows["referrals"]:
        b = bookings[r.booking_id]
        assert b.channel == "referral" and r.hospital_id == b.hospital_id and r.centre_id != b.hospital_id


async def test_the_history_has_a_citys_shapes(seeded):
    _, _, rows = seeded
    bookings = rows["bookings"]
    kinds = {h.id: (h.kind, h.level) for h in rows["hospitals"]}
    channels = Counter(b.channel for b in bookings)
    assert {"wechat", "app", "web", "phone", "kiosk", "onsite", "clinic", "referral"} <= set(channels)
    assert channels.most_common(1)[0][0] == "wechat"
    by_kind = Counter(kinds[b.hospital_id] for b in bookings)
    assert by_kind[("general", 3)] > 5 * by_kind[("community", 1)] > 0
    sessions = {cs.id: cs for cs in rows["sessions"]}
    halves = Counter(sessions[b.session_id].half_day for b in bookings)
    assert halves["am"] > halves["pm"]
    weekdays = Counter(b.session_date.weekday() for b in bookings)
    assert weekdays[0] > weekdays[6]
    status = Counter(b.status for b in bookings)
    assert status["checked_in"] > 10 * status["no_show"] / 2 > 0 and status["cancelled"] > 0
    reasons = Counter(b.cancel_reason for b in bookings if b.status == "cancelled")
    assert {"member", "phone_cancel", "session_suspended"} <= set(reasons)


async def test_rollups_cover_the_history(rt, seeded):
    report, city, rows = seeded
    h = report.history
    assert (rows["rollup"].rolled_from, rows["rollup"].rolled_through) == (h.first_day, h.last_day)
    f = ReportFilter(h.first_day, h.last_day, group_by="hospital")
    with use_city(city):
        async with rt.db.transaction() as s:
            rolled = await bookings_report(s, f)
    assert rolled.totals["bookings"] == h.bookings
    assert rolled.totals["no_show"] == h.by_status["no_show"]


async def _fingerprint(rt, city) -> dict:
    """What the seed decides, without the booking references (random, like every booking's)."""
    with use_city(city):
        async with rt.db.transaction() as s:
            bookings = (await s.execute(
                select(Member.phone, Doctor.name, Department.code, Booking.session_date, Period.start, Booking.channel,
                       Booking.status, Booking.created_at, Booking.cancel_reason, Booking.checked_in_at)
                .join(Member, Member.id == Booking.member_id).join(Doctor, Doctor.id == Booking.doctor_id)
                .join(Department, Department.id == Booking.department_id).join(Period, Period.id == Booking.period_id)
            )).all()
            members = (await s.execute(select(Member.name, Member.phone, Member.id_number_hash, Member.birth_date,
                                              Member.suspended_until))).all()
            notes = (await s.execute(select(Notification.kind, func.count()).group_by(Notification.kind))).all()
    return {"bookings": sorted(map(tuple, bookings)), "members": sorted(map(tuple, members)), "notes": sorted(notes)}


async def test_the_same_seed_gives_the_same_history(rt):
    today = utcnow().date()
    a = await seed_demo(rt, slug=f"hista-{uuid.uuid4().hex[:6]}", days=1, history_days=2, today=today)
    b = await seed_demo(rt, slug=f"histb-{uuid.uuid4().hex[:6]}", days=1, history_days=2, today=today)
    first, second = await _fingerprint(rt, a.city), await _fingerprint(rt, b.city)
    assert first["bookings"] and first == second


async def test_a_quick_seed_has_no_history(rt):
    report = await seed_demo(rt, slug=f"histq-{uuid.uuid4().hex[:6]}", days=1)
    assert report.history is None and report.first_day == utcnow().astimezone(report.city.tz).date()


async def test_bulk_writer_fills_defaults_and_refuses_missing_columns(rt, city):
    with use_city(city):
        async with rt.db.transaction() as s:
            writer = BulkWriter(await s.connection())
            hospital = Hospital(code="BW1", name="批量医院", short_name="批量", kind="general")
            s.add(hospital)
            await s.flush()
            department = Department(hospital_id=hospital.id, code="03", name="内科")
            s.add(department)
            await s.flush()
            with pytest.raises(ValueError, match="member_id"):
                await writer.insert(Booking.__table__, [{"id": "GHX", "city_id": city.id}])
            # ``title``, ``active`` … come from the model's defaults.
            await writer.insert(Doctor.__table__, [
                {"city_id": city.id, "hospital_id": hospital.id, "department_id": department.id, "name": name}
                for name in ("甲医生", "乙医生")
            ])
            rows = (await s.scalars(select(Doctor).where(Doctor.hospital_id == hospital.id).order_by(Doctor.id))).all()
    assert [(d.name, str(d.title), d.active, d.specialty) for d in rows] == [
        ("甲医生", "attending", True, ""), ("乙医生", "attending", True, "")]
