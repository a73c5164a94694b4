"""Kiosk mode (R5.5): ID-card log-in, inactivity, booking and the 80-mm receipt."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from guahao.core.jobs import process_outbox_message
from guahao.core.models import Booking, Notification, OutboxMessage
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city

from .conftest import KEY, OTHER_ID, PHONE, csrf_of, id_number


async def test_id_card_and_last_four_digits_log_in(kiosk):
    start = await kiosk.get("")
    assert start.status_code == 200 and 'id="id_number"' in start.text and "autofocus" in start.text
    assert 'id="member-name"' not in start.text  # the web session does not count here

    assert (await kiosk.card(id_number())).status_code == 303
    verify = await kiosk.get("")
    assert 'id="digits"' in verify.text and 'id="send-code"' in verify.text
    wrong = await kiosk.digits("0000")
    assert wrong.status_code == 401 and 'id="error"' in wrong.text
    ok = await kiosk.digits(PHONE[-4:])
    assert ok.status_code == 303 and ok.headers["location"] == kiosk.root
    home = await kiosk.get("")
    assert 'id="member-name"' in home.text and id_number() not in home.text
    assert 'http-equiv="refresh"' in home.text and f"{kiosk.root}?idle=1" in home.text


async def test_bad_id_number_is_refused_with_a_sentence(kiosk):
    r = await kiosk.card("110105199003070000")
    assert r.status_code == 422 and 'id="error"' in r.text and "18" in r.text


async def test_unknown_card_looks_the_same_and_never_logs_in(kiosk):
    known = await kiosk.card(id_number())
    known_page = await kiosk.get("")
    await kiosk.post("logout", {}, form_page="")
    unknown = await kiosk.card(id_number("11010519700101001"))
    unknown_page = await kiosk.get("")
    assert known.status_code == unknown.status_code == 303

    def strip(html: str) -> str:
        return re.sub(r'value="[^"]*"', "", html)

    assert strip(known_page.text) == strip(unknown_page.text)
    assert (await kiosk.digits("0000")).status_code == 401


async def test_five_wrong_tries_lock_the_card(kiosk):
    await kiosk.card(id_number())
    for _ in range(5):
        assert (await kiosk.digits("9999")).status_code == 401
    locked = await kiosk.digits(PHONE[-4:])
    assert locked.status_code == 429 and "15" in locked.text
    assert 'id="member-name"' not in (await kiosk.get("")).text


async def test_sms_code_instead_of_digits(kiosk, rt, city):
    await kiosk.card(OTHER_ID)
    sent = await kiosk.post("verify", {"action": "send"}, form_page="")
    assert sent.status_code == 200 and 'id="code"' in sent.text
    with use_city(city):
        async with rt.db.transaction() as s:
            (message,) = [m for m in (await s.scalars(select(OutboxMessage))).all()
                          if (m.payload or {}).get("kind") == "login_code"]
    assert await process_outbox_message(rt, message.id) == "done"
    with use_city(city):
        async with rt.db.transaction() as s:
            note = await s.scalar(select(Notification).where(Notification.kind == "login_code"))
    assert note.recipient == "13900139000"
    code = re.search(r"验证码为(\d{6})", note.body).group(1)
    ok = await kiosk.post("verify", {"action": "code", "code": code}, form_page="")
    assert ok.status_code == 303
    assert "李四" in (await kiosk.get("")).text


async def test_session_ends_after_two_idle_minutes(kiosk):
    start = utcnow()
    with frozen(start):
        await kiosk.log_in()
    with frozen(start + timedelta(seconds=100)):
        assert (await kiosk.get("bookings")).status_code == 200  # slides the window
    with frozen(start + timedelta(seconds=215)):
        assert (await kiosk.get("bookings")).status_code == 200
    with frozen(start + timedelta(seconds=215 + 121)):
        gone = await kiosk.get("bookings")
        assert gone.status_code == 303 and gone.headers["location"] == kiosk.root
        assert 'id="id_number"' in (await kiosk.get("")).text


async def test_idle_return_logs_out(kiosk):
    await kiosk.log_in()
    page = await kiosk.get("?idle=1")
    assert 'id="id_number"' in page.text and 'id="member-name"' not in page.text


async def test_web_cookie_is_not_a_kiosk_session(client, kiosk, site_city):
    web = await kiosk.client.get(f"/c/{site_city.city.slug}/")
    assert 'id="member-name"' in web.text  # logged in on the web site (the last registration)
    assert 'id="member-name"' not in (await kiosk.get("")).text


async def test_book_at_the_kiosk_and_print_the_receipt(kiosk, rt, city, site_city):
    cat = site_city
    await kiosk.log_in()
    period = cat.periods[cat.sessions[4].id][0]
    doctor = await kiosk.get(f"doctors/{cat.doctor.id}")
    assert f'href="{kiosk.root}book/{period.id}"' in doctor.text
    page = await kiosk.get(f"book/{period.id}")
    booked = await kiosk.client.post(kiosk.root + f"book/{period.id}",
                                     data={"csrf": csrf_of(page.text), "key": KEY.search(page.text).group(1)})
    assert booked.status_code == 303 and booked.headers["location"].startswith(kiosk.root + "bookings/")
    ref = re.search(r"bookings/([^?]+)\?new=1", booked.headers["location"]).group(1)
    detail = await kiosk.get(f"bookings/{ref}?new=1")
    assert f'href="{kiosk.root}receipt/{ref}"' in detail.text
    with use_city(city):
        async with rt.db.transaction() as s:
            assert (await s.scalar(select(Booking).where(Booking.id == ref))).channel == "kiosk"

    receipt = await kiosk.get(f"receipt/{ref}")
    assert receipt.status_code == 200
    text = receipt.text
    for fact in (ref, cat.hospital.name, cat.department.name, cat.doctor.name, "08:00", "身份证", "医保卡",
                 'id="printed-at"', 'id="print"', f'src="/c/{cat.city.slug}/assets/kiosk.js"'):
        assert fact in text, fact
    assert re.search(r"¥\d+\.\d\d", text)
    assert "@page { size: 80mm auto; margin: 0 }" in text
    assert id_number() not in text
    script = await kiosk.client.get(f"/c/{cat.city.slug}/assets/kiosk.js")  # the Print button, no inline script
    assert script.status_code == 200 and "window.print()" in script.text
    css = await kiosk.client.get(f"/c/{cat.city.slug}/assets/kiosk.css")
    assert css.status_code == 200 and "size: 80mm auto" in css.text and "min-height: 64px" in css.text

    # Another member sees nothing of it.
    await kiosk.post("logout", {}, form_page="")
    await kiosk.log_in(OTHER_ID, "9000")
    other = await kiosk.get(f"receipt/{ref}")
    assert other.status_code == 404 and ref not in other.text


async def test_member_pages_send_visitors_to_the_start(kiosk):
    r = await kiosk.get("bookings")
    assert r.status_code == 303 and r.headers["location"] == kiosk.root


async def test_a_member_registered_before_a_data_key_rotation_still_logs_in(kiosk, rt):
    from guahao.tenants.crypto import configure_cipher

    configure_cipher(["a-new-data-key-that-replaces-the-old-one-0123456789", *rt.settings.data_keys])
    try:
        home = await kiosk.log_in()
        assert home.status_code == 303
        assert 'id="member-name"' in (await kiosk.get("")).text
    finally:
        configure_cipher(rt.settings.data_keys)
