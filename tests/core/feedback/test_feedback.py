"""After the visit: who may survey and review, once, within the window; complaints; contacts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from guahao.core.booking import engine
from guahao.core.errors import DomainError
from guahao.core.feedback import complaints, content, reviews, surveys
from guahao.core.members.service import update_contacts
from guahao.core.models import Member, OutboxMessage
from guahao.core.notifications import member_addresses, plan
from guahao.tenants.clock import frozen, utcnow
from tests.core.booking.helpers import make_member, reserve, run


async def seen(rt, city, catalogue, member_id: int, index: int = 0, period: int = 0):
    """A booking of ``member_id`` that was checked in."""
    p = catalogue.periods[catalogue.sessions[index].id][period]
    b = await reserve(rt, city, member_id, p.id)
    return await run(rt, city, engine.check_in, b.id)


async def refused(code: str, rt, city, fn, *args, **kw) -> None:
    with pytest.raises(DomainError) as exc:
        await run(rt, city, fn, *args, **kw)
    assert exc.value.code == code


async def test_check_in_plans_the_survey_invitation(rt, city, catalogue):
    member = await make_member(rt, city)
    b = await seen(rt, city, catalogue, member)
    async def invitations(s):
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify"))).all()
        return [r for r in rows if r.payload["kind"] == "survey_invitation" and r.payload["booking_id"] == b.id]
    [row] = await run(rt, city, invitations)
    assert row.due_at == b.ends_at + timedelta(hours=2)
    assert row.payload["data"]["url"] == f"/c/{city.slug}/survey/{b.id}"
    assert row.payload["member_id"] == member


async def test_survey_only_for_own_checked_in_visit_once(rt, city, catalogue):
    a, other = await make_member(rt, city), await make_member(rt, city)
    p = catalogue.periods[catalogue.sessions[1].id][0]
    unseen = await reserve(rt, city, a, p.id)
    await refused("not_checked_in", rt, city, surveys.submit_survey, member_id=a, booking_id=unseen.id,
                  overall=5, waiting=4, attitude=5)
    b = await seen(rt, city, catalogue, a)
    await refused("not_found", rt, city, surveys.submit_survey, member_id=other, booking_id=b.id,
                  overall=5, waiting=4, attitude=5)
    await refused("invalid_rating", rt, city, surveys.submit_survey, member_id=a, booking_id=b.id,
                  overall=6, waiting=4, attitude=5)
    row = await run(rt, city, surveys.submit_survey, member_id=a, booking_id=b.id, overall="5", waiting=3,
                    attitude=4, comment=" 很好 ")
    assert (row.overall, row.waiting, row.attitude, row.comment) == (5, 3, 4, "很好")
    assert row.doctor_id == b.doctor_id and row.visit_date == b.session_date
    await refused("already_surveyed", rt, city, surveys.submit_survey, member_id=a, booking_id=b.id,
                  overall=1, waiting=1, attitude=1)


async def test_survey_window_closes_seven_days_after_the_visit(rt, city, catalogue):
    a = await make_member(rt, city)
    b = await seen(rt, city, catalogue, a)
    assert [x.id for x in await run(rt, city, surveys.open_surveys, a)] == [b.id]
    late = b.ends_at + timedelta(days=7, seconds=1)
    await refused("survey_closed", rt, city, surveys.submit_survey, member_id=a, booking_id=b.id,
                  overall=5, waiting=5, attitude=5, now=late)
    with frozen(late):
        assert await run(rt, city, surveys.open_surveys, a) == []
    ok = await run(rt, city, surveys.submit_survey, member_id=a, booking_id=b.id, overall=5, waiting=5,
                   attitude=5, now=b.ends_at + timedelta(days=6))
    assert ok.id is not None


async def test_survey_summary_aggregates_in_sql(rt, city, catalogue):
    a, c = await make_member(rt, city), await make_member(rt, city)
    b1 = await seen(rt, city, catalogue, a, index=0)  # doctor 1
    b2 = await seen(rt, city, catalogue, c, index=0, period=1)  # doctor 1
    b3 = await seen(rt, city, catalogue, a, index=3)  # doctor 2, the day after
    for b, scores in ((b1, (5, 4, 5)), (b2, (3, 2, 4)), (b3, (1, 1, 1))):
        await run(rt, city, surveys.submit_survey, member_id=b.member_id, booking_id=b.id,
                  overall=scores[0], waiting=scores[1], attitude=scores[2])
    whole = await run(rt, city, surveys.survey_summary, hospital_id=catalogue.hospital.id)
    assert whole == {"responses": 3, "overall": 3.0, "waiting": 2.33, "attitude": 3.33}
    one = await run(rt, city, surveys.survey_summary, doctor_id=catalogue.doctor.id)
    assert one == {"responses": 2, "overall": 4.0, "waiting": 3.0, "attitude": 4.5}
    by_doctor = await run(rt, city, surveys.survey_summary, department_id=catalogue.department.id, by="doctor")
    assert [(g["id"], g["responses"], g["overall"]) for g in by_doctor] == [
        (catalogue.doctor.id, 2, 4.0), (catalogue.doctor2.id, 1, 1.0)]
    later = b1.session_date + timedelta(days=30)
    assert (await run(rt, city, surveys.survey_summary, date_from=later))["responses"] == 0
    assert (await run(rt, city, surveys.survey_summary, date_to=b1.session_date))["responses"] == 2
    empty = await run(rt, city, surveys.survey_summary, doctor_id=-1)
    assert empty == {"responses": 0, "overall": None, "waiting": None, "attitude": None}


async def test_reviews_only_after_a_visit_once_and_moderated(rt, city, catalogue):
    a, c, other = await make_member(rt, city), await make_member(rt, city), await make_member(rt, city)
    p = catalogue.periods[catalogue.sessions[2].id][0]
    unseen = await reserve(rt, city, a, p.id)
    await refused("not_checked_in", rt, city, reviews.submit_review, member_id=a, booking_id=unseen.id, rating=5)
    b1 = await seen(rt, city, catalogue, a)
    b2 = await seen(rt, city, catalogue, c, period=1)
    await refused("not_found", rt, city, reviews.submit_review, member_id=other, booking_id=b1.id, rating=1)
    assert [x.id for x in await run(rt, city, reviews.reviewable_bookings, a)] == [b1.id]
    first = await run(rt, city, reviews.submit_review, member_id=a, booking_id=b1.id, rating=4, comment="耐心")
    assert first.status == "published"
    await refused("already_reviewed", rt, city, reviews.submit_review, member_id=a, booking_id=b1.id, rating=5)
    assert await run(rt, city, reviews.reviewable_bookings, a) == []
    held = await run(rt, city, reviews.submit_review, member_id=c, booking_id=b2.id, rating=1, comment="差", moderated=True)
    assert held.status == "pending"
    rating = await run(rt, city, reviews.doctor_rating, catalogue.doctor.id)
    assert rating["count"] == 1 and rating["average"] == 4.0 and [r["comment"] for r in rating["latest"]] == ["耐心"]
    assert [r.id for r in await run(rt, city, reviews.pending_reviews)] == [held.id]
    await run(rt, city, reviews.moderate_review, held.id, status="published", staff="审核员")
    rating = await run(rt, city, reviews.doctor_rating, catalogue.doctor.id)
    assert rating["count"] == 2 and rating["average"] == 2.5
    await run(rt, city, reviews.moderate_review, held.id, status="rejected", staff="审核员")
    rating = await run(rt, city, reviews.doctor_rating, catalogue.doctor.id)
    assert rating["count"] == 1 and "差" not in [r["comment"] for r in rating["latest"]]
    await refused("invalid_status", rt, city, reviews.moderate_review, held.id, status="pending", staff="x")


async def test_complaints_are_private_and_follow_their_status(rt, city, catalogue):
    a, other = await make_member(rt, city), await make_member(rt, city)
    p = catalogue.periods[catalogue.sessions[1].id][0]
    mine = await reserve(rt, city, a, p.id)
    theirs = await reserve(rt, city, other, catalogue.periods[catalogue.sessions[3].id][0].id)
    h = catalogue.hospital.id
    await refused("invalid_category", rt, city, complaints.submit_complaint, member_id=a, hospital_id=h,
                  category="nonsense", text="排队太久")
    await refused("missing_text", rt, city, complaints.submit_complaint, member_id=a, hospital_id=h,
                  category="waiting", text="  ")
    await refused("not_found", rt, city, complaints.submit_complaint, member_id=a, hospital_id=h,
                  category="waiting", text="排队太久", booking_id=theirs.id)
    made = await run(rt, city, complaints.submit_complaint, member_id=a, hospital_id=h, category="waiting",
                     text="排队太久", booking_id=mine.id)
    assert made.status == "submitted"
    assert [c.id for c in await run(rt, city, complaints.list_complaints, a)] == [made.id]
    assert await run(rt, city, complaints.list_complaints, other) == []
    await refused("not_found", rt, city, complaints.get_complaint, made.id, member_id=other)
    replied = await run(rt, city, complaints.reply_to_complaint, made.id, reply="已改进叫号流程", staff="客服张")
    assert replied.status == "replied" and replied.replied_at is not None
    seen_by_member = await run(rt, city, complaints.get_complaint, made.id, member_id=a)
    assert seen_by_member.reply == "已改进叫号流程"
    closed = await run(rt, city, complaints.close_complaint, made.id, staff="客服张")
    assert closed.status == "closed" and closed.closed_at is not None
    await refused("complaint_closed", rt, city, complaints.reply_to_complaint, made.id, reply="again", staff="x")


async def test_contacts_reach_the_notification_addresses(rt, city, catalogue):
    a, other = await make_member(rt, city), await make_member(rt, city)
    await refused("invalid_email", rt, city, update_contacts, a, email="not-an-address")
    m = await run(rt, city, update_contacts, a, email=" zhang@example.cn ", wechat_openid="oABC123")
    assert (m.email, m.wechat_openid) == ("zhang@example.cn", "oABC123")
    await refused("openid_taken", rt, city, update_contacts, other, wechat_openid="oABC123")
    assert member_addresses(m, {}) == {"sms": m.phone, "voice": m.phone, "email": "zhang@example.cn", "wechat": "oABC123"}
    m = await run(rt, city, update_contacts, a, email="")
    assert m.email is None and m.wechat_openid == "oABC123"  # left out: unchanged


async def test_opt_out_skips_the_survey_invitation(rt, city, catalogue):
    a = await make_member(rt, city)
    await run(rt, city, update_contacts, a, notifications_opt_out=True)
    b = await seen(rt, city, catalogue, a)
    payload = {"kind": "survey_invitation", "member_id": a, "booking_id": b.id, "data": {"url": "/x"}}
    planned = await run(rt, city, plan, city, payload)
    assert planned.note.status == "skipped" and not planned.note.essential
    await run(rt, city, update_contacts, a, notifications_opt_out=False)
    assert (await run(rt, city, lambda s: s.get(Member, a))).notifications_opt_out is False


async def test_scheduled_content_stays_hidden(rt, city, catalogue):
    now = utcnow()
    h = catalogue.hospital.id
    await run(rt, city, content.publish_announcement, hospital_id=h, title="停诊通知", body="周五停诊")
    await run(rt, city, content.publish_announcement, hospital_id=h, title="未来", body="x", published_at=now + timedelta(days=1))
    art = await run(rt, city, content.publish_article, title="洗手", body="七步洗手法", category="预防")
    later = await run(rt, city, content.publish_article, title="明天", body="x", published_at=now + timedelta(days=1))
    assert [n["title"] for n in await run(rt, city, content.list_announcements)] == ["停诊通知"]
    assert [x.id for x in await run(rt, city, content.list_articles)] == [art.id]
    assert (await run(rt, city, content.get_article, art.id)).title == "洗手"
    await refused("not_found", rt, city, content.get_article, later.id)
