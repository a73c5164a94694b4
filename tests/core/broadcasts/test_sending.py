"""Broadcasts (R9.3): the audience of a session, a department or a hospital on a day; preview
counts; one send per form; opted-out members skipped; each recipient's status after the outbox
runs; nothing outside the staff member's hospitals."""

from __future__ import annotations

import secrets
from datetime import time

import pytest
from sqlalchemy import select

from guahao.core import broadcasts
from guahao.core.audit import Actor
from guahao.core.booking import engine
from guahao.core.catalogue.schedule import PeriodSpec, create_session
from guahao.core.errors import NotFound, ValidationFailed
from guahao.core.jobs import drain_in_process
from guahao.core.models import AuditEntry, Department, Doctor, Hospital, Notification, OutboxMessage
from guahao.core.plugins.manager import configure
from guahao.tenants.context import use_city
from tests.core.jobs.test_handlers import book
from tests.core.plugins.probes import make_member
from tests.factories import make_catalogue

ACTOR = Actor("staff", 1, "市管理员", "city_admin")
TEXT = "因王建国医生临时外出学术交流，原定门诊停诊，请改约其他医生。"


async def _world(rt, city):
    """H1's 呼吸内科 with doctor 1 and 2 on day 1 and 2, 心内科 on day 1, and a second hospital."""
    cat = await make_catalogue(rt, city)
    day1, day2 = cat.sessions[0], cat.sessions[2]  # doctor 1, day 1 / day 2
    other_doctor_day1 = cat.sessions[1]
    with use_city(city):
        async with rt.db.transaction() as s:
            cardio = Department(hospital_id=cat.hospital.id, code="04.01", name="心内科")
            s.add(cardio)
            await s.flush()
            doc = Doctor(hospital_id=cat.hospital.id, department_id=cardio.id, name="赵心")
            s.add(doc)
            await s.flush()
            cardio_session = await create_session(
                s, hospital=cat.hospital, doctor=doc, registration_type=cat.reg_type, campus_id=cat.campus.id,
                day=day1.date, half_day="am", periods=[PeriodSpec(time(8), time(8, 30), {"public": 5})])
            other = Hospital(code="H2", name="第二医院", short_name="二院")
            s.add(other)
    period = lambda cs: cat.periods[cs.id][0].id if cs.id in cat.periods else None  # noqa: E731
    with use_city(city):
        async with rt.db.transaction() as s:
            from guahao.core.models import Period
            cardio_period = (await s.scalars(select(Period).where(Period.session_id == cardio_session.id))).first()
    m = {name: await make_member(rt, city, name=name, opt_out=name == "钱七") for name in
         ("张三", "李四", "王五", "赵六", "钱七", "孙八", "周九")}
    await book(rt, city, m["张三"], period(day1))
    await book(rt, city, m["李四"], cat.periods[day1.id][1].id)
    await book(rt, city, m["钱七"], period(day1))  # opted out
    gone = await book(rt, city, m["孙八"], cat.periods[day1.id][1].id)
    await book(rt, city, m["王五"], period(other_doctor_day1))
    await book(rt, city, m["赵六"], period(day2))
    await book(rt, city, m["周九"], cardio_period.id)
    with use_city(city):
        async with rt.db.transaction() as s:
            await engine.cancel(s, gone.id, member_id=m["孙八"].id, reason="test")
    return cat, day1, cardio, other, m


async def _names(rt, city, audience, scope=None) -> list[str]:
    with use_city(city):
        async with rt.db.transaction() as s:
            resolved = await broadcasts.resolve(s, audience, scope)
    return sorted(x.name for x in resolved.members)


async def test_the_audience_of_a_session_a_department_and_a_hospital_on_a_day(rt, city):
    cat, day1, cardio, other, m = await _world(rt, city)
    h = cat.hospital.id
    session = broadcasts.Audience("session", h, session_id=day1.id)
    assert await _names(rt, city, session) == sorted(["张三", "李四", "钱七"])  # the cancelled booking is not
    dept = broadcasts.Audience("department", h, day=day1.date, department_id=cat.department.id)
    assert await _names(rt, city, dept) == sorted(["张三", "李四", "钱七", "王五"])
    whole = broadcasts.Audience("hospital", h, day=day1.date)
    assert await _names(rt, city, whole) == sorted(["张三", "李四", "钱七", "王五", "周九"])
    # within the scope of H1 only; the other hospital's department or H1 seen from H2's scope: 404
    assert await _names(rt, city, whole, {h}) == sorted(["张三", "李四", "钱七", "王五", "周九"])
    for audience, scope in ((whole, {other.id}), (session, {other.id}),
                            (broadcasts.Audience("department", other.id, day=day1.date, department_id=cardio.id), None),
                            (broadcasts.Audience("session", other.id, session_id=day1.id), None)):
        with pytest.raises(NotFound):
            await _names(rt, city, audience, scope)
    with pytest.raises(ValidationFailed) as refused:
        await _names(rt, city, broadcasts.Audience("hospital", h))
    assert refused.value.code == "day_required"


async def test_preview_counts_members_reachable_per_channel_and_opted_out(rt, city):
    cat, day1, *_ , m = await _world(rt, city)
    with use_city(city):
        async with rt.db.transaction() as s:
            for name, email in (("张三", "zs@example.cn"),):
                member = await s.get(type(m[name]), m[name].id)
                member.email = email
    plugins = await rt.plugins.for_city(city)
    with use_city(city):
        async with rt.db.transaction() as s:
            p = await broadcasts.preview(s, city, plugins, broadcasts.Audience("session", cat.hospital.id,
                                                                               session_id=day1.id),
                                         TEXT, ["voice", "sms", "email"], None)
    assert p.members == 3 and p.opted_out == 1 and p.channels == ["sms", "email", "voice"]
    counts = {c.channel: (c.reachable, c.no_address) for c in p.counts}
    assert counts == {"sms": (2, 0), "email": (1, 1), "voice": (2, 0)}
    assert p.messages == 5 and p.unavailable == [] and p.example.startswith(f"【{city.name}预约挂号】")
    assert p.segments == 1 and p.chars == len(p.example) <= 70
    with use_city(city):
        async with rt.db.transaction() as s:
            for text, channels, code in (("  ", ["sms"], "text_required"), ("字" * 301, ["sms"], "text_too_long"),
                                         (TEXT, [], "channels_required"), (TEXT, ["fax"], "channels_required")):
                with pytest.raises(ValidationFailed) as refused:
                    await broadcasts.preview(s, city, plugins, broadcasts.Audience("session", cat.hospital.id,
                                                                                   session_id=day1.id),
                                             text, channels, None)
                assert refused.value.code == code


async def test_sending_once_skips_the_opted_out_and_statuses_follow_the_outbox(rt, city):
    cat, day1, *_ , m = await _world(rt, city)
    plugins = await rt.plugins.for_city(city)
    audience = broadcasts.Audience("session", cat.hospital.id, session_id=day1.id)
    key = secrets.token_urlsafe(24)
    b, sent = await broadcasts.send(rt, city, plugins, ACTOR, audience, TEXT, ["sms", "wechat"], key, None)
    again, sent_again = await broadcasts.send(rt, city, plugins, ACTOR, audience, TEXT, ["sms", "wechat"], key, None)
    assert sent and not sent_again and again.id == b.id
    with use_city(city):
        async with rt.db.transaction() as s:
            outbox = (await s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify"))).all()
            mine = [o for o in outbox if o.payload.get("broadcast_id") == b.id]
            assert len(mine) == 2  # 张三 and 李四 by SMS; nobody has a WeChat openid, 钱七 opted out
            [entry] = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "broadcast.send"))).all()
            assert entry.target_id == str(b.id) and entry.actor == "staff:1" and entry.after["members"] == 3
    with use_city(city):
        async with rt.db.transaction() as s:
            before = await broadcasts.status(s, b.id, None)
    by_name = {r.name: r.statuses for r in before.recipients}
    assert by_name == {"张三": {"sms": "pending", "wechat": "skipped"}, "李四": {"sms": "pending", "wechat": "skipped"},
                       "钱七": {"sms": "skipped", "wechat": "skipped"}}
    await drain_in_process(rt, city_id=city.id)
    await drain_in_process(rt, city_id=city.id)
    with use_city(city):
        async with rt.db.transaction() as s:
            after = await broadcasts.status(s, b.id, None)
            history = await broadcasts.history(s, None)
            sms = (await s.scalars(select(Notification).where(Notification.kind == "broadcast",
                                                             Notification.status == "sent"))).all()
    assert {r.name: r.statuses["sms"] for r in after.recipients} == {"张三": "sent", "李四": "sent", "钱七": "skipped"}
    assert after.totals["sms"] == {"pending": 0, "sent": 2, "failed": 0, "skipped": 1}
    assert after.totals["wechat"]["skipped"] == 3
    assert len(sms) == 2 and all(TEXT in n.body and n.sender == "message_log" for n in sms)
    assert [h.broadcast.id for h in history] == [b.id] and history[0].totals == after.totals
    with use_city(city):
        async with rt.db.transaction() as s:
            with pytest.raises(NotFound):
                await broadcasts.status(s, b.id, {cat.hospital.id + 1000})
            assert await broadcasts.history(s, {cat.hospital.id + 1000}) == []


async def test_a_channel_without_sender_or_an_empty_audience_is_refused(rt, city):
    cat, day1, cardio, other, m = await _world(rt, city)
    await configure(rt, city, "message_log", settings={"channels": ["sms"]})
    plugins = await rt.plugins.for_city(city)
    audience = broadcasts.Audience("session", cat.hospital.id, session_id=day1.id)
    with pytest.raises(ValidationFailed) as refused:
        await broadcasts.send(rt, city, plugins, ACTOR, audience, TEXT, ["sms", "voice"], "k" * 20, None)
    assert refused.value.code == "no_sender" and refused.value.details["channels"] == ["voice"]
    empty = broadcasts.Audience("hospital", cat.hospital.id, day=day1.date.replace(year=day1.date.year + 1))
    with pytest.raises(ValidationFailed) as refused:
        await broadcasts.send(rt, city, plugins, ACTOR, empty, TEXT, ["sms"], "k" * 20, None)
    assert refused.value.code == "empty_audience"
    with use_city(city):
        async with rt.db.transaction() as s:
            assert await broadcasts.sending.by_request_key(s, "k" * 20) is None


async def test_two_submits_of_one_form_at_the_same_moment_send_once(rt, city):
    import asyncio

    cat, day1, *_ , m = await _world(rt, city)
    plugins = await rt.plugins.for_city(city)
    audience = broadcasts.Audience("department", cat.hospital.id, day=day1.date, department_id=cat.department.id)
    key = secrets.token_urlsafe(24)
    results = await asyncio.gather(*[broadcasts.send(rt, city, plugins, ACTOR, audience, TEXT, ["sms"], key, None)
                                     for _ in range(2)])
    assert sorted(sent for _, sent in results) == [False, True]
    assert results[0][0].id == results[1][0].id
    with use_city(city):
        async with rt.db.transaction() as s:
            notes = (await s.scalars(select(Notification).where(Notification.kind == "broadcast"))).all()
            entries = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "broadcast.send"))).all()
    assert len(notes) == 4 and len(entries) == 1  # 张三, 李四, 钱七 (skipped), 王五
