"""The core outbox handlers with the real booking engine: messages, HIS pushes, timeouts, events."""

from datetime import timedelta

from sqlalchemy import select

from guahao.core.booking import engine
from guahao.core.jobs import drain_in_process, process_outbox_message
from guahao.core.models import Booking, BookingEvent, Hospital, Notification
from guahao.tenants.clock import frozen
from guahao.tenants.context import use_city
from tests.core.plugins.probes import Probe, emit_row, enable, make_member, outbox_rows
from tests.factories import make_catalogue


async def book(rt, city, member, period_id: int) -> Booking:
    with use_city(city):
        async with rt.db.transaction() as s:
            return await engine.reserve(s, member_id=member.id, period_id=period_id, channel="web")


async def notifications(rt, city, **where) -> list[Notification]:
    with use_city(city):
        async with rt.db.transaction() as s:
            q = select(Notification).order_by(Notification.id)
            for key, value in where.items():
                q = q.where(getattr(Notification, key) == value)
            return list((await s.scalars(q)).all())


async def his_events(rt, city, booking_id: str) -> list[BookingEvent]:
    with use_city(city):
        async with rt.db.transaction() as s:
            q = select(BookingEvent).where(BookingEvent.booking_id == booking_id, BookingEvent.kind == "his_pushed")
            return list((await s.scalars(q.order_by(BookingEvent.id))).all())


def last_period(cat):
    """The first period of the last session (``doctor2``, three days ahead: every reminder
    is still ahead)."""
    return cat.periods[cat.sessions[-1].id][0]


async def test_a_confirmed_booking_is_announced_pushed_and_reported(rt, city, catalogue, register_plugin):
    probe = register_plugin(Probe(), "event_probe")
    city = await enable(rt, city, "event_probe")
    member = await make_member(rt, city, name="李四")
    booking = await book(rt, city, member, last_period(catalogue).id)

    await drain_in_process(rt, city_id=city.id)

    [note] = await notifications(rt, city)
    assert (note.kind, note.status, note.sender, note.recipient) == ("booking_confirmed", "sent", "message_log", member.phone)
    assert note.booking_id == booking.id and note.sent_at is not None
    for part in (
        booking.id,
        "第一人民医院",
        "呼吸内科",
        catalogue.doctor2.name,
        "专家",
        "08:00-08:30",
        "50.00元",
        "本部",
        "身份证",
        "医保卡",
        "李四",
    ):
        assert part in note.body
    assert note.body.startswith(f"【{city.name}预约挂号】")

    [pushed] = await his_events(rt, city, booking.id)
    assert pushed.data["action"] == "book" and pushed.data["reference"] == f"DEMO-{booking.id}"
    assert pushed.actor == "his:demo_his"

    kinds = [e["kind"] for _, e in probe.events]
    assert kinds == ["created", "confirmed"]
    assert all(e["booking_id"] == booking.id for _, e in probe.events)
    assert [n["kind"] for n in probe.sent] == ["booking_confirmed"]

    # The reminders wait for their time; running everything again sends nothing twice.
    pending = {r.payload.get("kind") for r in await outbox_rows(rt, city, status="pending")}
    assert pending == {"reminder_day_before", "reminder_30min"}
    for row in await outbox_rows(rt, city, status="done"):
        assert await process_outbox_message(rt, row.id) == "done"
    assert len(await notifications(rt, city)) == 1
    assert len(await his_events(rt, city, booking.id)) == 1


async def test_reminders_go_out_at_their_time_while_the_booking_stands(rt, city, catalogue):
    member = await make_member(rt, city)
    booking = await book(rt, city, member, last_period(catalogue).id)
    await drain_in_process(rt, city_id=city.id)

    thirty_before = booking.starts_at - timedelta(minutes=30)
    with frozen(thirty_before):
        await drain_in_process(rt, city_id=city.id, now=thirty_before)
    kinds = [n.kind for n in await notifications(rt, city, status="sent")]
    assert kinds == ["booking_confirmed", "reminder_day_before", "reminder_30min"]
    [reminder] = await notifications(rt, city, kind="reminder_30min")
    assert "08:00开始就诊" in reminder.body
    assert "身份证" in reminder.body and booking.id in reminder.body


async def test_no_reminder_for_a_cancelled_booking_and_the_his_hears_of_the_cancellation(rt, city, catalogue):
    member = await make_member(rt, city)
    booking = await book(rt, city, member, last_period(catalogue).id)
    await drain_in_process(rt, city_id=city.id)
    with use_city(city):
        async with rt.db.transaction() as s:
            await engine.cancel(s, booking.id, member_id=member.id, reason="行程有变", enforce_cutoff=False)
    await drain_in_process(rt, city_id=city.id)

    at = booking.starts_at - timedelta(minutes=29)
    with frozen(at):
        await drain_in_process(rt, city_id=city.id, now=at)
    assert [n.kind for n in await notifications(rt, city)] == ["booking_confirmed", "booking_cancelled"]
    [cancelled] = await notifications(rt, city, kind="booking_cancelled")
    assert "行程有变" in cancelled.body
    assert {r.status for r in await outbox_rows(rt, city)} == {"done"}
    assert [e.data["action"] for e in await his_events(rt, city, booking.id)] == ["book", "cancel"]


async def test_an_unpaid_hold_runs_out_through_the_outbox(rt, city):
    cat = await make_catalogue(rt, city, payment_mode="online")
    member = await make_member(rt, city)
    booking = await book(rt, city, member, last_period(cat).id)
    assert booking.status == "pending_payment"
    await drain_in_process(rt, city_id=city.id)
    [held] = await notifications(rt, city)
    assert held.kind == "booking_pending_payment" and "支付" in held.body

    after = booking.hold_expires_at + timedelta(seconds=1)
    with frozen(after):
        await drain_in_process(rt, city_id=city.id, now=after)
    with use_city(city):
        async with rt.db.transaction() as s:
            assert (await s.scalar(select(Booking).where(Booking.id == booking.id))).status == "expired"
    assert [n.kind for n in await notifications(rt, city)] == ["booking_pending_payment", "booking_expired"]
    assert await his_events(rt, city, booking.id) == []  # a hold that never held was never pushed


async def test_opted_out_members_get_only_essential_messages(rt, city, catalogue):
    member = await make_member(rt, city, opt_out=True)
    await emit_row(rt, city, "notify", {"kind": "announcement", "member_id": member.id, "data": {"text": "门诊楼搬迁"}})
    await book(rt, city, member, last_period(catalogue).id)
    await drain_in_process(rt, city_id=city.id)
    by_kind = {n.kind: n for n in await notifications(rt, city)}
    assert by_kind["announcement"].status == "skipped" and not by_kind["announcement"].essential
    assert by_kind["booking_confirmed"].status == "sent"


async def test_without_a_sender_the_message_waits_and_is_sent_once_one_is_enabled(rt, city):
    member = await make_member(rt, city)
    city = await enable(rt, city, "message_log", enabled=False)
    payload = {
        "kind": "credit_suspended",
        "member_id": member.id,
        "booking_id": None,
        "data": {"suspended_until": "2031-01-02T00:00:00+00:00", "reason": "一年内爽约1次"},
    }
    outbox_id = await emit_row(rt, city, "notify", payload)
    assert await process_outbox_message(rt, outbox_id) == "pending"
    [note] = await notifications(rt, city)
    assert note.status == "retrying" and "no enabled sender" in note.error

    city = await enable(rt, city, "message_log")
    [row] = await outbox_rows(rt, city, id=outbox_id)
    with frozen(row.due_at):
        assert await process_outbox_message(rt, outbox_id) == "done"
    [note] = await notifications(rt, city)
    assert note.status == "sent" and note.attempts == 2
    assert "2031年01月02日 08:00" in note.body and "一年内爽约1次" in note.body

    # The same message emitted twice is still one notification.
    again = await emit_row(rt, city, "notify", payload)
    assert await process_outbox_message(rt, again) == "done"
    assert len(await notifications(rt, city)) == 1


async def test_a_failing_plugin_does_not_keep_the_event_from_the_others(rt, city, register_plugin):
    good = register_plugin(Probe(), "good_listener")
    register_plugin(Probe(fail=True), "bad_listener")
    for name in ("good_listener", "bad_listener"):
        city = await enable(rt, city, name)
    outbox_id = await emit_row(rt, city, "booking.event", {"kind": "created", "booking_id": "B1"})

    assert await process_outbox_message(rt, outbox_id) == "pending"
    assert [e["kind"] for _, e in good.events] == ["created"]
    [row] = await outbox_rows(rt, city, id=outbox_id)
    assert "bad_listener" in row.last_error


async def test_a_down_his_delays_the_push_but_never_loses_it(rt, city, catalogue):
    city = await enable(rt, city, "demo_his", settings={"fail_pushes": True})
    member = await make_member(rt, city)
    booking = await book(rt, city, member, last_period(catalogue).id)
    await drain_in_process(rt, city_id=city.id)
    [push] = await outbox_rows(rt, city, topic="his.push")
    assert push.status == "pending" and push.attempts == 1 and "HisUnavailable" in push.last_error

    city = await enable(rt, city, "demo_his")
    with frozen(push.due_at):
        assert await process_outbox_message(rt, push.id) == "done"
    assert [e.data["action"] for e in await his_events(rt, city, booking.id)] == ["book"]


async def test_a_hospital_whose_his_adapter_is_not_enabled_is_retried_visibly(rt, city, catalogue):
    with use_city(city):
        async with rt.db.transaction() as s:
            h = await s.scalar(select(Hospital).where(Hospital.id == catalogue.hospital.id))
            h.his_adapter = "fhir_r4"
    member = await make_member(rt, city)
    await book(rt, city, member, last_period(catalogue).id)
    await drain_in_process(rt, city_id=city.id)
    [push] = await outbox_rows(rt, city, topic="his.push")
    assert push.status == "pending" and "fhir_r4" in push.last_error


async def test_messages_for_a_booking_that_is_gone_are_dropped(rt, city):
    member = await make_member(rt, city)
    outbox_id = await emit_row(rt, city, "notify", {"kind": "reminder_30min", "member_id": member.id, "booking_id": "NOPE"})
    assert await process_outbox_message(rt, outbox_id) == "done"
    assert await notifications(rt, city) == []
