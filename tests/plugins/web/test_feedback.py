"""Survey, doctor review, complaints and news pages: who may use them, once, with CSRF."""

from __future__ import annotations

import re

import pytest

from guahao.core.booking import engine
from guahao.core.feedback import complaints as cases
from guahao.core.feedback import content
from guahao.core.plugins.manager import configure
from guahao.plugins.channels.web import feedback
from guahao.plugins.channels.web.i18n import catalog
from tests.core.booking.helpers import run

from .conftest import Visitor, csrf_of, id_number


async def booked(visitor, site_city, index: int = 4) -> str:
    period = site_city.periods[site_city.sessions[index].id][0]
    r = await visitor.book(period.id)
    return re.search(r"bookings/([^?]+)\?new=1", r.headers["location"]).group(1)


async def checked_in(rt, visitor, site_city, index: int = 4) -> str:
    ref = await booked(visitor, site_city, index)
    await run(rt, site_city.city, engine.check_in, ref)
    return ref


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_survey_after_check_in_once(visitor, rt, site_city, lang):
    if lang == "en":
        await visitor.set_language("en")
    await visitor.register()
    ref = await booked(visitor, site_city)
    early = await visitor.get(f"survey/{ref}")
    assert early.status_code == 403
    assert ("只有已到院取号就诊" if lang == "zh-CN" else "checked in for") in early.text
    await run(rt, site_city.city, engine.check_in, ref)
    profile = await visitor.get("profile")
    assert f'id="survey-{ref}"' in profile.text and f'id="review-{ref}"' in profile.text
    form = await visitor.get(f"survey/{ref}")
    assert form.status_code == 200 and site_city.doctor.name in form.text
    assert ("满意度调查" if lang == "zh-CN" else "Satisfaction survey") in form.text
    missing = await visitor.post(f"survey/{ref}", {"overall": "5", "waiting": "4"})
    assert missing.status_code == 422 and 'id="attitude-error"' in missing.text
    done = await visitor.post(f"survey/{ref}", {"overall": "5", "waiting": "4", "attitude": "5", "comment": "好"},
                              form_page=f"survey/{ref}")
    assert done.status_code == 200 and 'id="notice"' in done.text
    twice = await visitor.get(f"survey/{ref}")
    assert twice.status_code == 409
    assert ("已填写过" if lang == "zh-CN" else "already answered") in twice.text
    assert f'id="survey-{ref}"' not in (await visitor.get("profile")).text


async def test_review_shows_on_the_doctor_page_and_not_for_others(visitor, client, rt, site_city):
    await visitor.register()
    ref = await checked_in(rt, visitor, site_city)
    doctor = await visitor.get(f"doctors/{site_city.doctor.id}")
    assert 'id="no-reviews"' in doctor.text
    forged = await visitor.client.post(visitor.root + f"review/{ref}", data={"rating": "5", "csrf": "bad"})
    assert forged.status_code == 403
    sent = await visitor.post(f"review/{ref}", {"rating": "4", "comment": "讲解清楚"})
    assert sent.status_code == 200 and f'doctors/{site_city.doctor.id}' in sent.text
    doctor = await visitor.get(f"doctors/{site_city.doctor.id}")
    assert 'id="rating-average"' in doctor.text and "讲解清楚" in doctor.text and "4.0" in doctor.text
    assert (await visitor.get(f"review/{ref}")).status_code == 409

    await visitor.post("logout", {}, form_page="")
    stranger = Visitor(client, site_city.city.slug)
    await stranger.register(name="李四", number=_other_id(), phone="13900139000")
    assert (await stranger.get(f"review/{ref}")).status_code == 404
    assert (await stranger.get(f"survey/{ref}")).status_code == 404


def _other_id() -> str:
    return id_number("11010519850101002")


async def test_moderated_city_holds_reviews(visitor, rt, site_city):
    await configure(rt, site_city.city, "web", settings={"moderate_reviews": True})
    rt.plugins.invalidate(site_city.city.id)
    await visitor.register()
    ref = await checked_in(rt, visitor, site_city)
    sent = await visitor.post(f"review/{ref}", {"rating": "2", "comment": "待审核的评价"})
    assert sent.status_code == 200 and "审核" in sent.text
    doctor = await visitor.get(f"doctors/{site_city.doctor.id}")
    assert "待审核的评价" not in doctor.text and 'id="no-reviews"' in doctor.text


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_complaint_submit_and_follow(visitor, client, rt, site_city, lang):
    if lang == "en":
        await visitor.set_language("en")
    await visitor.register()
    ref = await booked(visitor, site_city)
    empty = await visitor.get("complaints")
    assert 'id="empty"' in empty.text
    form = await visitor.get("complaints/new")
    assert site_city.hospital.name in form.text
    bad = await visitor.post("complaints/new", {"hospital_id": str(site_city.hospital.id), "category": "", "text": "x"})
    assert bad.status_code == 422 and 'id="category-error"' in bad.text
    forged = await visitor.client.post(visitor.root + "complaints/new", data={
        "hospital_id": str(site_city.hospital.id), "category": "waiting", "text": "x", "csrf": "no"})
    assert forged.status_code == 403
    sent = await visitor.post("complaints/new", {"hospital_id": str(site_city.hospital.id), "category": "waiting",
                                                 "booking_id": ref, "text": "候诊两个小时"})
    assert sent.status_code == 303
    path = sent.headers["location"].split(visitor.root, 1)[1]
    complaint_id = int(re.search(r"complaints/(\d+)", path).group(1))
    page = await visitor.get(path)
    assert "候诊两个小时" in page.text and 'data-status="submitted"' in page.text and 'id="no-reply"' in page.text
    assert ("等候时间" if lang == "zh-CN" else "Waiting time") in page.text

    await run(rt, site_city.city, cases.reply_to_complaint, complaint_id, reply="已调整叫号", staff="客服")
    page = await visitor.get(f"complaints/{complaint_id}")
    assert 'data-status="replied"' in page.text and "已调整叫号" in page.text
    listing = await visitor.get("complaints")
    assert f'id="complaint-{complaint_id}"' in listing.text

    await visitor.post("logout", {}, form_page="")
    stranger = Visitor(client, site_city.city.slug)
    await stranger.register(name="李四", number=_other_id(), phone="13900139000")
    assert (await stranger.get(f"complaints/{complaint_id}")).status_code == 404
    assert f'id="complaint-{complaint_id}"' not in (await stranger.get("complaints")).text


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_news_and_article_pages(visitor, rt, site_city, lang):
    if lang == "en":
        await visitor.set_language("en")
    city = site_city.city
    await run(rt, city, content.publish_announcement, hospital_id=site_city.hospital.id, title="周五停诊", body="呼吸科停诊")
    art = await run(rt, city, content.publish_article, title="七步洗手法", body="第一步。\n\n第二步。", category="预防")
    news = await visitor.get("news")
    assert news.status_code == 200 and "周五停诊" in news.text and f'id="article-{art.id}"' in news.text
    assert ("医院公告" if lang == "zh-CN" else "Hospital announcements") in news.text
    page = await visitor.get(f"articles/{art.id}")
    assert page.status_code == 200 and "七步洗手法" in page.text and page.text.count("<p>第") == 2
    assert (await visitor.get("articles/999999")).status_code == 404


async def test_new_forms_carry_a_csrf_token(visitor, rt, site_city):
    await visitor.register()
    ref = await checked_in(rt, visitor, site_city)
    for path in ("profile", f"survey/{ref}", f"review/{ref}", "complaints/new"):
        assert csrf_of((await visitor.get(path)).text)


def test_category_and_status_names_are_translated():
    zh = catalog("zh-CN")
    names = [*feedback.CATEGORY_NAMES.values(), *feedback.COMPLAINT_STATUS.values()]
    assert not [n for n in names if zh.gettext(n) == n]
