"""The whole booking flow through the site's forms, in zh-CN and in English."""

from __future__ import annotations

import re

import pytest

from .conftest import id_number


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_register_browse_book_cancel(visitor, site_city, lang):
    cat = site_city
    if lang == "en":
        assert (await visitor.set_language("en")).status_code == 303
    home = await visitor.get()
    assert home.status_code == 200 and f'<html lang="{lang}"' in home.text
    assert cat.hospital.name in home.text

    r = await visitor.register()
    assert r.status_code == 303
    welcome = await visitor.get(r.headers["location"].split("/", 3)[3])
    assert ("欢迎" if lang == "zh-CN" else "Welcome") in welcome.text
    assert id_number() not in welcome.text

    hospital = await visitor.get(f"hospitals/{cat.hospital.id}")
    assert cat.department.name in hospital.text
    department = await visitor.get(f"departments/{cat.department.id}?q=哮喘")
    assert cat.doctor.name in department.text and cat.doctor2.name not in department.text
    session = cat.sessions[4]  # two days ahead of tomorrow: still cancellable online
    period = cat.periods[session.id][0]
    doctor = await visitor.get(f"doctors/{cat.doctor.id}")
    assert f'id="period-{period.id}"' in doctor.text
    assert ("未来14天出诊安排" if lang == "zh-CN" else "Schedule for the next 14 days") in doctor.text

    confirm = await visitor.get(f"book/{period.id}")
    assert ("到医院后现场缴纳" if lang == "zh-CN" else "paid at the hospital") in confirm.text
    assert id_number() not in confirm.text
    booked = await visitor.book(period.id)
    assert booked.status_code == 303
    ref = re.search(r"bookings/([^?]+)\?new=1", booked.headers["location"]).group(1)
    page = await visitor.get(f"bookings/{ref}?new=1")
    assert ref in page.text and cat.hospital.name in page.text and "08:00" in page.text
    assert ("身份证" in page.text and "医保卡" in page.text)
    assert id_number() not in page.text

    mine = await visitor.get("bookings")
    assert f'id="booking-{ref}"' in mine.text
    sure = await visitor.get(f"bookings/{ref}/cancel")
    assert sure.status_code == 200 and 'id="confirm-cancel"' in sure.text
    cancelled = await visitor.post(f"bookings/{ref}/cancel", {})
    assert cancelled.status_code == 303
    listing = await visitor.get("bookings?scope=cancelled&done=cancelled")
    assert f'id="booking-{ref}"' in listing.text
    assert ("预约已取消" if lang == "zh-CN" else "Your booking has been cancelled.") in listing.text
    upcoming = await visitor.get("bookings")
    assert f'id="booking-{ref}"' not in upcoming.text


async def test_double_submit_books_once(visitor, site_city):
    await visitor.register()
    period = site_city.periods[site_city.sessions[2].id][0]
    page = await visitor.get(f"book/{period.id}")
    form = {"csrf": re.search(r'name="csrf" value="([^"]+)"', page.text).group(1),
            "key": re.search(r'name="key" value="([^"]+)"', page.text).group(1)}
    first = await visitor.client.post(visitor.root + f"book/{period.id}", data=form)
    second = await visitor.client.post(visitor.root + f"book/{period.id}", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    mine = await visitor.get("bookings")
    assert mine.text.count('class="card" id="booking-') == 1


async def test_login_by_phone_and_id_number_and_logout(visitor):
    await visitor.register()
    out = await visitor.post("logout", {}, form_page="")
    assert out.status_code == 303
    assert 'id="nav-login"' in (await visitor.get()).text
    wrong = await visitor.login(password="wrong-pass1")
    assert wrong.status_code == 401 and "密码不正确" in wrong.text
    ok = await visitor.login(login=id_number())
    assert ok.status_code == 303
    assert 'id="member-name"' in (await visitor.get()).text


async def test_lockout_after_failed_logins(visitor):
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    for _ in range(5):
        await visitor.login(password="wrong-pass1")
    locked = await visitor.login()
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text


async def test_register_field_errors(visitor):
    r = await visitor.register(number="110105199003070030")
    assert r.status_code == 422
    assert 'id="id_number-error"' in r.text and "身份证号码无效" in r.text
    assert 'value="张三"' in r.text  # what was typed stays
    weak = await visitor.register(password="short")
    assert 'id="password-error"' in weak.text and "8到128位" in weak.text
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    again = await visitor.register()
    assert again.status_code == 409 or "已注册" in again.text


async def test_member_pages_need_login(visitor, site_city):
    r = await visitor.get("bookings")
    assert r.status_code == 303 and "/login?next=" in r.headers["location"]
