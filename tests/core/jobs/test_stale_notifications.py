"""Messages worth nothing once late are dropped, not sent: a login code past its five
minutes, a waiting-list offer past its deadline. Staff see them with the failures."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from guahao.core.booking import engine
from guahao.core.booking.waitlist import join_waitlist
from guahao.core.jobs import process_outbox_message
from guahao.core.models import Booking, BookingStatus
from guahao.core.notifications import expires_at, failed_notifications
from guahao.plugins.channels.web.otp import CODE_TTL, LoginCodes
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member as make_booking_member
from tests.core.booking.helpers import reserve, run
from tests.core.plugins.probes import make_member, outbox_rows

from .sms_city import enable_aliyun, notes

LOGIN_TEMPLATE = {"login_code": {"code": "SMS_LOGIN", "params": {"code": "code"}}}


async def _login_code_row(rt, city, aliyun_sms):
    city, key_id = await enable_aliyun(rt, city, aliyun_sms, templates=LOGIN_TEMPLATE)
    aliyun_sms.templates["SMS_LOGIN"] = {"code"}
    member = await make_member(rt, city)
    with use_city(city):
        await LoginCodes().send(rt, member.phone, member.id)
    [row] = [r for r in await outbox_rows(rt, city, topic="notify") if r.payload.get("kind") == "login_code"]
    return city, key_id, row


async def test_a_login_code_delivered_late_is_dropped_not_sent(rt, city, aliyun_sms):
    city, key_id, row = await _login_code_row(rt, city, aliyun_sms)
    deadline = expires_at(row.payload)
    assert deadline is not None and abs((deadline - row.created_at).total_seconds() - CODE_TTL) < 5
    aliyun_sms.inject[key_id].append("isv.BUSINESS_LIMIT_CONTROL")  # the first try is refused

    assert await process_outbox_message(rt, row.id) == "pending"
    assert (await notes(rt, city, kind="login_code"))[0].status == "retrying"
    with frozen(deadline + timedelta(seconds=1)):
        assert await process_outbox_message(rt, row.id) == "done"  # not retried again
    [note] = await notes(rt, city, kind="login_code")
    assert note.status == "dropped" and "expired" in note.error and note.sent_at is None
    assert aliyun_sms.messages(key_id) == []
    [listed] = await failed_notifications(rt, city)
    assert listed["id"] == note.id and listed["status"] == "dropped" and listed["final"]

    with frozen(deadline + timedelta(minutes=5)):  # a replay of the same message changes nothing
        await process_outbox_message(rt, row.id)
    assert aliyun_sms.messages(key_id) == []


async def test_a_login_code_in_time_is_sent(rt, city, aliyun_sms):
    city, key_id, row = await _login_code_row(rt, city, aliyun_sms)
    with frozen(expires_at(row.payload) - timedelta(seconds=1)):
        assert await process_outbox_message(rt, row.id) == "done"
    [note] = await notes(rt, city, kind="login_code")
    assert note.status == "sent"
    [sms] = aliyun_sms.messages(key_id)
    assert sms["values"]["code"].isdigit() and len(sms["values"]["code"]) == 6


async def test_a_waitlist_offer_past_its_deadline_is_dropped(rt, city, catalogue, aliyun_sms):
    city, key_id = await enable_aliyun(rt, city, aliyun_sms)
    cs = catalogue.sessions[-1]
    holders = []
    for period in catalogue.periods[cs.id]:
        for _ in range(catalogue.public_pool(period.id).capacity):
            holders.append(await reserve(rt, city, await make_booking_member(rt, city), period.id))
    waiting = await make_booking_member(rt, city, name="候补")
    with use_city(city):
        async with rt.db.transaction() as s:
            await join_waitlist(s, member_id=waiting, session_id=cs.id)
    await run(rt, city, engine.cancel, holders[0].id, enforce_cutoff=False)
    with use_city(city):
        async with rt.db.transaction() as s:
            offer = await s.scalar(select(Booking).where(Booking.status == BookingStatus.offered))
    [row] = [r for r in await outbox_rows(rt, city, topic="notify") if r.payload.get("kind") == "waitlist_offer"]
    deadline = expires_at(row.payload)
    assert deadline is not None and deadline > utcnow()

    with frozen(deadline + timedelta(seconds=1)):
        assert await process_outbox_message(rt, row.id) == "done"
    [note] = await notes(rt, city, kind="waitlist_offer")
    assert note.status == "dropped" and note.booking_id == offer.id
    assert [m for m in aliyun_sms.messages(key_id) if m["template"] == "SMS_OFFER"] == []


def test_expiry_is_read_from_the_payload():
    assert expires_at({"kind": "announcement"}) is None
    assert expires_at({"kind": "login_code", "expires_at": "2025-03-01T08:05:00+00:00"}).minute == 5
    assert expires_at({"kind": "waitlist_offer", "data": {"offer_expires_at": "2025-03-01T08:30:00Z"}}).minute == 30
    assert expires_at({"kind": "login_code", "expires_at": "not a time"}) is None
    assert expires_at({"kind": "login_code", "expires_at": "2025-03-01T08:05:00"}) is None  # no zone: ignored
