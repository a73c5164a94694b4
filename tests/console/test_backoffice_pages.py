"""Hospital back-office pages of the console: schedule, session (pools, bookings, check-in),
suspend/move with preview, weekly templates, complaints and statistics, through real HTTP.

Scope: a scheduler of hospital A reaching hospital B's session, period, booking, template or
complaint by URL or form field gets 404 and nothing changes."""

from __future__ import annotations

import re
from datetime import time, timedelta

import pytest
from sqlalchemy import select

from guahao.core.catalogue.schedule import PeriodSpec, create_session
from guahao.core.feedback.complaints import submit_complaint
from guahao.core.models import (
    AuditEntry,
    Booking,
    Campus,
    ClinicSession,
    Complaint,
    Department,
    Doctor,
    Hospital,
    OutboxMessage,
    Period,
    RegistrationType,
    ScheduleTemplate,
    SlotPool,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve

from .conftest import add_staff


async def other_hospital(rt, city):
    """Hospital B with one doctor and one session tomorrow (public 2 and on-site 1 per period)."""
    with use_city(city):
        async with rt.db.transaction() as s:
            h = Hospital(code="H2", name="第二医院", short_name="二院")
            s.add(h)
            await s.flush()
            campus = Campus(hospital_id=h.id, name="本部")
            dept = Department(hospital_id=h.id, code="04", name="外科")
            rtype = RegistrationType(hospital_id=h.id, code="general", name="普通", fee_fen=1000)
            s.add_all([campus, dept, rtype])
            await s.flush()
            doc = Doctor(hospital_id=h.id, department_id=dept.id, name="孙外科")
            s.add(doc)
            await s.flush()
            day = utcnow().astimezone(city.tz).date() + timedelta(days=1)
            cs = await create_session(s, hospital=h, doctor=doc, campus_id=campus.id, registration_type=rtype, day=day,
                                      half_day="am", periods=[PeriodSpec(time(9), time(9, 30), {"public": 2, "onsite": 1})])
            period = await s.scalar(select(Period).where(Period.session_id == cs.id))
            template = ScheduleTemplate(hospital_id=h.id, campus_id=campus.id, doctor_id=doc.id,
                                        registration_type_id=rtype.id, weekday=0, half_day="am", period_count=4,
                                        pools={"public": 2}, valid_from=day)
            s.add(template)
            await s.flush()
            return h, cs, period, template


async def complaint_about(rt, city, hospital_id: int, text: str = "候诊时间太长") -> int:
    member = await make_member(rt, city, name="投诉人")
    with use_city(city):
        async with rt.db.transaction() as s:
            c = await submit_complaint(s, member_id=member, hospital_id=hospital_id, category="waiting", text=text)
            return c.id


async def get(rt, city, model, ident):
    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.get(model, ident)


async def rows(rt, city, model, *where):
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(model).where(*where))).all())


async def audit_actions(rt, city, actor_id: int) -> list[str]:
    found = await rows(rt, city, AuditEntry, AuditEntry.actor == f"staff:{actor_id}")
    return [a.action for a in found]


@pytest.fixture
async def scene(rt, city, catalogue):
    """Hospital A (the catalogue) with two bookings in its first session, hospital B, and staff."""
    cs = catalogue.sessions[0]
    period = catalogue.periods[cs.id][0]
    made = [await reserve(rt, city, await make_member(rt, city, name=name), period.id) for name in ("张三丰", "李四")]
    b_hospital, b_session, b_period, b_template = await other_hospital(rt, city)
    outsider = await reserve(rt, city, await make_member(rt, city, name="王五"), b_period.id)
    return {
        "a": catalogue.hospital, "session": cs, "period": period, "bookings": made,
        "b": b_hospital, "b_session": b_session, "b_period": b_period, "b_template": b_template, "b_booking": outsider,
        "scheduler": await add_staff(rt, city, "scheduler", hospital_id=catalogue.hospital.id),
        "hadmin": await add_staff(rt, city, "hospital_admin", hospital_id=catalogue.hospital.id),
    }


def base(city) -> str:
    return f"/console/c/{city.slug}/"


async def test_pages_render_for_the_roles_that_may_open_them(rt, city, scene, new_browser):
    u, a, cs = base(city), scene["a"], scene["session"]
    sched = new_browser()
    await sched.login(scene["scheduler"])
    home = await sched.get(u)
    assert 'id="nav-schedule"' in home.text and 'id="nav-templates"' in home.text
    assert 'id="nav-hospital-complaints"' not in home.text and 'id="nav-hospital-stats"' not in home.text
    page = await sched.get(u + "schedule")
    assert page.status_code == 200 and f'id="session-{cs.id}"' in page.text and "王建国" in page.text
    assert f'id="session-{scene["b_session"].id}"' not in page.text and 'id="hospital-picker"' not in page.text
    assert "公开号源 2/4" in page.text  # booked / capacity of the public pools over both periods
    page = await sched.get(u + f"sessions/{cs.id}")
    assert page.status_code == 200
    for b in scene["bookings"]:
        assert f'id="booking-{b.id}"' in page.text and f'id="check-in-{b.id}"' in page.text
    assert "张**" in page.text and "张三丰" not in page.text  # masked
    for path in ("templates", "templates/new", "templates/generate"):
        assert (await sched.get(u + path)).status_code == 200, path
    for path in ("hospital/complaints", "hospital/stats"):
        assert (await sched.get(u + path)).status_code == 403, path

    hadmin = new_browser()
    await hadmin.login(scene["hadmin"])
    await complaint_about(rt, city, a.id)
    for path in ("schedule", "hospital/complaints", "hospital/stats", f"sessions/{cs.id}"):
        assert (await hadmin.get(u + path)).status_code == 200, path

    doctor = new_browser()
    await doctor.login(await add_staff(rt, city, "doctor", hospital_id=a.id, doctor_id=cs.doctor_id))
    for path in ("schedule", "templates", f"sessions/{cs.id}", "hospital/complaints"):
        assert (await doctor.get(u + path)).status_code == 403, path

    admin = new_browser()
    await admin.login(await add_staff(rt, city, "city_admin"))
    picker = await admin.get(u + "schedule")
    assert 'id="hospital-picker"' in picker.text and f'id="session-{cs.id}"' not in picker.text
    page = await admin.get(u + f"schedule?hospital={scene['b'].id}")
    assert f'id="session-{scene["b_session"].id}"' in page.text
    assert (await admin.get(u + f"sessions/{scene['b_session'].id}")).status_code == 200
    assert (await admin.get(u + "schedule?hospital=99999999")).status_code == 404


async def test_scheduler_of_a_cannot_reach_hospital_b(rt, city, scene, browser):
    u, cs, b_cs = base(city), scene["session"], scene["b_session"]
    await browser.login(scene["scheduler"])
    for path in (f"sessions/{b_cs.id}", f"schedule?hospital={scene['b'].id}", f"templates?hospital={scene['b'].id}",
                 f"templates/{scene['b_template'].id}", f"sessions/{b_cs.id}/suspend", "sessions/99999999",
                 "schedule?hospital=x"):
        assert (await browser.get(u + path)).status_code == 404, path
    await browser.get(u + f"sessions/{cs.id}")
    pools_before = await rows(rt, city, SlotPool, SlotPool.session_id == b_cs.id)
    b_period = scene["b_period"].id
    attempts = [
        (f"sessions/{b_cs.id}/periods/{b_period}/capacities", {"cap_public": "9"}),
        (f"sessions/{cs.id}/periods/{b_period}/capacities", {"cap_public": "9"}),  # B's period under A's session
        (f"sessions/{cs.id}/periods/{b_period}/release", {"pool": "onsite"}),
        (f"sessions/{cs.id}/check-in", {"booking_id": scene["b_booking"].id}),
        (f"sessions/{b_cs.id}/check-in", {"booking_id": scene["b_booking"].id}),
        (f"sessions/{b_cs.id}/suspend/preview", {"reason": "x"}),
        (f"sessions/{b_cs.id}/suspend/confirm", {"reason": "x"}),
        (f"templates/{scene['b_template'].id}/active", {"active": "0"}),
        ("templates/generate", {"hospital": str(scene["b"].id), "from": "2030-01-01", "to": "2030-01-07"}),
    ]
    for path, data in attempts:
        r = await browser.post(u + path, data)
        assert r.status_code == 404, path
    assert (await get(rt, city, Booking, scene["b_booking"].id)).status == "confirmed"
    assert (await get(rt, city, ClinicSession, b_cs.id)).status == "open"
    assert (await get(rt, city, ScheduleTemplate, scene["b_template"].id)).active
    after = await rows(rt, city, SlotPool, SlotPool.session_id == b_cs.id)
    assert sorted((p.id, p.capacity, p.booked) for p in after) == sorted((p.id, p.capacity, p.booked) for p in pools_before)
    assert not [a for a in await audit_actions(rt, city, scene["scheduler"].id)
                if a.startswith(("pool.", "schedule.", "template.", "booking."))]


async def test_check_in_capacities_and_release(rt, city, catalogue, scene, browser):
    u, cs, period = base(city), scene["session"], scene["period"]
    await browser.login(scene["scheduler"])
    await browser.get(u + f"sessions/{cs.id}")
    first = scene["bookings"][0]
    r = await browser.post(u + f"sessions/{cs.id}/check-in", {"booking_id": first.id})
    assert r.status_code == 303
    page = await browser.get(r.headers["location"])
    assert first.id in page.text and 'data-status="checked_in"' in page.text and f'id="check-in-{first.id}"' not in page.text
    assert (await get(rt, city, Booking, first.id)).status == "checked_in"

    # below what is booked: refused with a sentence, nothing changed
    r = await browser.post(u + f"sessions/{cs.id}/periods/{period.id}/capacities", {"cap_public": "1"})
    assert r.status_code == 409 and "已预约 2 个" in r.text and 'id="page-error"' in r.text
    assert catalogue.public_pool(period.id).capacity == 2
    assert (await get(rt, city, SlotPool, catalogue.public_pool(period.id).id)).capacity == 2
    browser.client.cookies.set("guahao_console_lang", "en")
    r = await browser.post(u + f"sessions/{cs.id}/periods/{period.id}/capacities", {"cap_public": "1"})
    assert r.status_code == 409 and "2 booked, 1 requested" in r.text
    browser.client.cookies.delete("guahao_console_lang")
    r = await browser.post(u + f"sessions/{cs.id}/periods/{period.id}/capacities", {"cap_public": "5", "cap_onsite": "2"})
    assert r.status_code == 303
    kinds = {p.pool: p for p in await rows(rt, city, SlotPool, SlotPool.period_id == period.id)}
    assert kinds["public"].capacity == 5 and kinds["onsite"].capacity == 2
    r = await browser.post(u + f"sessions/{cs.id}/periods/{period.id}/release", {"pool": "onsite"})
    assert r.status_code == 303
    kinds = {p.pool: p for p in await rows(rt, city, SlotPool, SlotPool.period_id == period.id)}
    assert kinds["public"].capacity == 7 and kinds["onsite"].capacity == kinds["onsite"].booked == 0
    r = await browser.post(u + f"sessions/{cs.id}/periods/{period.id}/release", {"pool": "onsite"})
    assert r.status_code == 409 and "没有可释放" in r.text
    assert {"booking.check_in", "pool.capacity", "pool.release"} <= set(await audit_actions(rt, city, scene["scheduler"].id))

    # the city administrator reads it in the audit log
    admin = await add_staff(rt, city, "city_admin")
    await browser.login(admin)
    log = await browser.get(u + "audit?action=pool.")
    assert log.status_code == 200 and "pool.capacity" in log.text and "pool.release" in log.text
    assert "释放现场号源" in log.text and "释放onsite" not in log.text


async def test_suspend_preview_lists_who_is_affected_then_confirm_notifies(rt, city, scene, browser):
    u, cs = base(city), scene["session"]
    await browser.login(scene["scheduler"])
    form = await browser.get(u + f"sessions/{cs.id}/suspend")
    assert form.status_code == 200 and 'id="f-reason"' in form.text
    r = await browser.post(u + f"sessions/{cs.id}/suspend/preview", {"reason": "  "})
    assert r.status_code == 422 and 'id="form-error"' in r.text
    r = await browser.post(u + f"sessions/{cs.id}/suspend/preview", {"reason": "医生外出会诊"})
    assert r.status_code == 200
    for b in scene["bookings"]:
        assert f'id="affected-{b.id}" data-action="cancel"' in r.text
    assert "张**" in r.text and "李*" in r.text and 'id="count-cancelled">2<' in r.text
    assert 'name="reason" value="医生外出会诊"' in r.text  # the confirmation re-posts the same parameters
    assert (await get(rt, city, ClinicSession, cs.id)).status == "open"
    assert [(await get(rt, city, Booking, b.id)).status for b in scene["bookings"]] == ["confirmed", "confirmed"]

    r = await browser.post(u + f"sessions/{cs.id}/suspend/confirm", {"reason": "医生外出会诊"})
    assert r.status_code == 200 and 'id="change-done"' in r.text
    assert (await get(rt, city, ClinicSession, cs.id)).status == "suspended"
    for b in scene["bookings"]:
        assert (await get(rt, city, Booking, b.id)).status == "cancelled"
        told = await rows(rt, city, OutboxMessage, OutboxMessage.topic == "notify")
        assert any(m.payload.get("booking_id") == b.id and m.payload.get("kind") == "session_suspended" for m in told)
    page = await browser.get(u + f"sessions/{cs.id}")
    assert 'id="changes"' in page.text and "医生外出会诊" in page.text and 'id="suspend-session"' not in page.text
    assert "schedule.suspend" in await audit_actions(rt, city, scene["scheduler"].id)


async def test_move_preview_shows_the_new_periods_and_confirm_moves(rt, city, scene, browser):
    u, cs = base(city), scene["session"]
    await browser.login(scene["scheduler"])
    day = (cs.date + timedelta(days=7)).isoformat()
    data = {"reason": "门诊调整", "new_date": day, "new_half_day": "am", "new_doctor_id": ""}
    r = await browser.post(u + f"sessions/{cs.id}/move/preview", {**data, "new_date": cs.date.isoformat()})
    assert r.status_code == 422 and 'id="form-error"' in r.text  # same session
    r = await browser.post(u + f"sessions/{cs.id}/move/preview", data)
    assert r.status_code == 200
    for b in scene["bookings"]:
        assert f'id="affected-{b.id}" data-action="move"' in r.text
    assert "08:00–08:30" in r.text and 'id="count-moved">2<' in r.text
    r = await browser.post(u + f"sessions/{cs.id}/move/confirm", data)
    assert r.status_code == 200 and 'id="target-link"' in r.text
    target = re.search(r'href="[^"]*/sessions/(\d+)" id="target-link"', r.text).group(1)
    for b in scene["bookings"]:
        moved = await get(rt, city, Booking, b.id)
        assert moved.status == "confirmed" and moved.session_id == int(target)
    assert (await get(rt, city, ClinicSession, cs.id)).status == "cancelled"


async def test_csrf_is_refused_and_changes_nothing(rt, city, scene, browser):
    u, cs = base(city), scene["session"]
    await browser.login(scene["scheduler"])
    first = scene["bookings"][0]
    r = await browser.post(u + f"sessions/{cs.id}/check-in", {"booking_id": first.id}, csrf="forged")
    assert r.status_code == 403
    r = await browser.post(u + f"sessions/{cs.id}/suspend/confirm", {"reason": "x"}, csrf="")
    assert r.status_code == 403
    assert (await get(rt, city, Booking, first.id)).status == "confirmed"
    assert (await get(rt, city, ClinicSession, cs.id)).status == "open"


async def test_templates_create_edit_deactivate_and_generate(rt, city, catalogue, scene, browser):
    u, a = base(city), scene["a"]
    await browser.login(scene["scheduler"])
    today = utcnow().astimezone(city.tz).date()
    monday = today + timedelta(days=7 - today.weekday())
    fields = {"doctor_id": str(catalogue.doctor.id), "campus_id": str(catalogue.campus.id),
              "registration_type_id": str(catalogue.reg_type.id), "weekday": "0", "half_day": "pm",
              "period_count": "4", "pool_public": "3", "pool_onsite": "1", "valid_from": monday.isoformat()}
    r = await browser.post(u + "templates/new", {**fields, "period_count": "abc"})
    assert r.status_code == 422 and 'id="err-period_count"' in r.text
    r = await browser.post(u + "templates/new", {**fields, "doctor_id": str(scene["b_template"].doctor_id)})
    assert r.status_code == 404 and "医生" in r.text  # B's doctor
    r = await browser.post(u + "templates/new", fields)
    assert r.status_code == 303
    [t] = await rows(rt, city, ScheduleTemplate, ScheduleTemplate.hospital_id == a.id)
    assert t.pools == {"public": 3, "onsite": 1} and t.half_day == "pm"
    r = await browser.post(u + "templates/new", fields)
    assert r.status_code == 409 and "已有生效的出诊模板" in r.text
    r = await browser.post(u + f"templates/{t.id}", {**fields, "period_count": "8"})
    assert r.status_code == 303 and (await get(rt, city, ScheduleTemplate, t.id)).period_count == 8
    listing = await browser.get(u + "templates")
    assert f'id="template-{t.id}"' in listing.text and f'id="template-{scene["b_template"].id}"' not in listing.text

    holiday = monday + timedelta(days=7)
    r = await browser.post(u + "templates/generate", {"from": monday.isoformat(),
                                                      "to": (monday + timedelta(days=20)).isoformat(),
                                                      "holidays": f"{holiday.isoformat()}\n"})
    assert r.status_code == 200
    assert 'id="count-created">2<' in r.text and 'id="count-holidays">1<' in r.text
    r = await browser.post(u + "templates/generate", {"from": monday.isoformat(),
                                                      "to": (monday + timedelta(days=20)).isoformat(), "holidays": ""})
    assert 'id="count-created">1<' in r.text and 'id="count-existing">2<' in r.text
    r = await browser.post(u + "templates/generate", {"from": monday.isoformat(), "to": monday.isoformat(),
                                                      "holidays": "10月1日"})
    assert r.status_code == 422 and "10月1日" in r.text

    r = await browser.post(u + f"templates/{t.id}/active", {"active": "0"})
    assert r.status_code == 303 and not (await get(rt, city, ScheduleTemplate, t.id)).active
    assert {"template.create", "template.update", "template.disable", "schedule.generate"} <= set(
        await audit_actions(rt, city, scene["scheduler"].id))


async def test_complaints_reply_and_close_within_the_hospital(rt, city, scene, browser):
    u = base(city)
    own = await complaint_about(rt, city, scene["a"].id, "挂号处态度差")
    other = await complaint_about(rt, city, scene["b"].id, "别家的投诉")
    await browser.login(scene["hadmin"])
    page = await browser.get(u + "hospital/complaints")
    assert f'id="complaint-{own}"' in page.text and "挂号处态度差" in page.text and "别家的投诉" not in page.text
    r = await browser.post(u + f"hospital/complaints/{own}/reply", {"reply": "已批评教育，向您致歉。"})
    assert r.status_code == 303
    r = await browser.post(u + f"hospital/complaints/{own}/reply", {"reply": "   "})
    assert r.status_code == 422
    r = await browser.post(u + f"hospital/complaints/{other}/reply", {"reply": "x"})
    assert r.status_code == 404
    r = await browser.post(u + f"hospital/complaints/{other}/close", {})
    assert r.status_code == 404
    r = await browser.post(u + f"hospital/complaints/{own}/close", {})
    assert r.status_code == 303
    done = await get(rt, city, Complaint, own)
    assert done.status == "closed" and done.reply == "已批评教育，向您致歉。"
    assert (await get(rt, city, Complaint, other)).status == "submitted"
    closed = await browser.get(u + "hospital/complaints?status=closed")
    assert f'id="complaint-{own}"' in closed.text and f'id="reply-{own}"' not in closed.text
    assert {"complaint.reply", "complaint.close"} <= set(await audit_actions(rt, city, scene["hadmin"].id))


async def test_statistics_of_the_hospital(rt, city, scene, browser):
    await browser.login(scene["hadmin"])
    cs = scene["session"]
    r = await browser.get(base(city) + f"hospital/stats?from={cs.date.isoformat()}&to={cs.date.isoformat()}")
    assert r.status_code == 200
    assert 'id="report-bookings-day"' in r.text and 'id="report-bookings-department"' in r.text
    assert 'id="report-no_show-department"' in r.text and "呼吸内科" in r.text and "外科" not in r.text
