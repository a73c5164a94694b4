"""The broadcasts pages: compose → preview (counts) → send (CSRF, once per form) → each
recipient's status after the outbox runs; a hospital administrator only within its hospital;
roles without the capability refused."""

from __future__ import annotations

import re

from sqlalchemy import select

from guahao.core.jobs import drain_in_process
from guahao.core.models import AuditEntry, Notification, OutboxMessage
from guahao.core.plugins.manager import configure
from guahao.tenants.context import use_city
from tests.console.conftest import add_hospital, add_staff
from tests.core.jobs.test_handlers import book
from tests.core.plugins.probes import make_member
from tests.factories import make_catalogue
from tests.fakes.live import LiveServer
from tests.fakes.twilio_calls import FakeTwilioCalls

TEXT = "因王建国医生外出会诊，本次门诊停诊，请改约其他医生，给您带来不便敬请谅解。"


async def _booked(rt, city):
    """Three members booked in doctor 1's first session (one opted out), one in doctor 2's."""
    cat = await make_catalogue(rt, city)
    first, second = cat.sessions[0], cat.sessions[1]
    members = [await make_member(rt, city, name=n, opt_out=n == "钱七") for n in ("张三", "李四", "钱七", "王五")]
    for m, cs in zip(members, (first, first, first, second), strict=True):
        await book(rt, city, m, cat.periods[cs.id][0].id if m.name != "李四" else cat.periods[cs.id][1].id)
    return cat, first, members


def _form(cat, session, *channels, text=TEXT):
    return [("hospital", str(cat.hospital.id)), ("day", session.date.isoformat()), ("audience", f"session:{session.id}"),
            ("text", text), *[("channels", c) for c in channels]]


def _num(html: str, ident: str) -> str:
    m = re.search(rf'id="{ident}"[^>]*>([^<]*)<', html)
    assert m, ident
    return m.group(1).strip()


async def _outbox(rt, city, broadcast_id: int) -> list[OutboxMessage]:
    with use_city(city):
        async with rt.db.transaction() as s:
            rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify"))).all()
    return [r for r in rows if r.payload.get("broadcast_id") == broadcast_id]


async def test_a_city_admin_previews_sends_once_and_follows_each_recipient(rt, city, browser, admin):
    cat, first, members = await _booked(rt, city)
    twilio = FakeTwilioCalls()
    with LiveServer(twilio.app) as server:
        sid, token = twilio.add_account()
        await configure(rt, city, "ivr", settings={"account_sid": sid, "caller_number": "+861012320",
                                                   "api_base": server.url}, secrets={"auth_token": token})
        await configure(rt, city, "message_log", settings={"channels": ["sms", "wechat", "email"]})
        await browser.login(admin)
        home = await browser.get(f"/console/c/{city.slug}/")
        assert 'id="nav-broadcasts"' in home.text
        page = await browser.get(f"/console/c/{city.slug}/broadcasts/new?hospital={cat.hospital.id}"
                                 f"&day={first.date.isoformat()}")
        assert page.status_code == 200 and f'id="aud-session-{first.id}"' in page.text
        assert f'id="aud-department-{cat.department.id}"' in page.text and 'id="ch-voice"' in page.text

        # an empty text comes back to the form with the reason
        r = await browser.post(f"/console/c/{city.slug}/broadcasts/preview", _form(cat, first, "sms", text=" "))
        assert r.status_code == 422 and 'id="broadcast-error"' in r.text and "通知内容" in r.text

        r = await browser.post(f"/console/c/{city.slug}/broadcasts/preview", _form(cat, first, "sms", "voice", "email"))
        assert r.status_code == 200, r.text
        assert _num(r.text, "preview-members") == "3" and _num(r.text, "preview-opted-out") == "1"
        assert re.search(r'id="count-sms".*?class="num reach">2<', r.text, re.S)
        assert re.search(r'id="count-email".*?class="num reach">0<', r.text, re.S)
        assert _num(r.text, "preview-messages") == "4" and "王建国" in _num(r.text, "preview-audience")
        key = re.search(r'name="request_key" value="([^"]+)"', r.text).group(1)
        send = [*_form(cat, first, "sms", "voice", "email"), ("request_key", key)]

        forged = await browser.post(f"/console/c/{city.slug}/broadcasts/send", send, csrf="forged")
        assert forged.status_code == 403
        r = await browser.post(f"/console/c/{city.slug}/broadcasts/send", send)
        assert r.status_code == 303
        location = r.headers["location"]
        broadcast_id = int(location.rsplit("/", 1)[1])
        again = await browser.post(f"/console/c/{city.slug}/broadcasts/send", send)  # a double submit
        assert again.status_code == 303 and again.headers["location"] == location
        assert len(await _outbox(rt, city, broadcast_id)) == 4  # 张三, 李四 × SMS, voice; no e-mail addresses

        page = await browser.get(location)
        assert "此通知已发送过" in page.text
        assert 'data-channel="sms" data-status="pending"' in page.text

        await drain_in_process(rt, city_id=city.id)
        await drain_in_process(rt, city_id=city.id)
        page = await browser.get(location)
        zhang, qian = members[0], members[2]
        row = page.text[page.text.index(f'id="recipient-{zhang.id}"'):]
        row = row[:row.index("</tr>")]
        assert 'data-channel="sms" data-status="sent"' in row and 'data-channel="voice" data-status="sent"' in row
        assert 'data-channel="email" data-status="skipped"' in row
        assert f"{zhang.phone[:3]}****{zhang.phone[-4:]}" in row and zhang.phone not in row
        row = page.text[page.text.index(f'id="recipient-{qian.id}"'):]
        row = row[:row.index("</tr>")]
        assert row.count('data-status="skipped"') == 3
        totals = page.text[page.text.index('id="total-voice"'):]
        assert 'data-status="sent">2<' in totals[:totals.index("</tr>")]
        calls = twilio.calls_of(sid)
        assert sorted(c["to"] for c in calls) == sorted("+86" + m.phone for m in members[:2])
        assert all(TEXT in c["says"][0]["text"] and c["says"][0]["language"] == "zh-CN" for c in calls)

    listing = await browser.get(f"/console/c/{city.slug}/broadcasts")
    assert f'id="broadcast-{broadcast_id}"' in listing.text and "admin" in listing.text.lower()
    with use_city(city):
        async with rt.db.transaction() as s:
            [entry] = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "broadcast.send"))).all()
            sent = (await s.scalars(select(Notification).where(Notification.kind == "broadcast",
                                                              Notification.status == "sent"))).all()
    assert entry.actor == f"staff:{admin.id}" and entry.target_id == str(broadcast_id)
    assert sorted(n.sender for n in sent) == ["ivr", "ivr", "message_log", "message_log"]


async def test_a_hospital_admin_stays_within_its_hospital(rt, city, browser, new_browser, admin):
    cat, first, members = await _booked(rt, city)
    other = await add_hospital(rt, city, "H9")
    own = await add_staff(rt, city, "hospital_admin", hospital_id=cat.hospital.id)
    stranger = await add_staff(rt, city, "hospital_admin", hospital_id=other.id)

    # the admin of another hospital: the session, the hospital and the broadcast answer 404
    await browser.login(stranger)
    r = await browser.get(f"/console/c/{city.slug}/broadcasts/new?hospital={cat.hospital.id}")
    assert r.status_code == 404
    r = await browser.post(f"/console/c/{city.slug}/broadcasts/preview", [*_form(cat, first, "sms")[1:],
                                                                         ("hospital", str(other.id))])
    assert r.status_code == 404
    r = await browser.post(f"/console/c/{city.slug}/broadcasts/send",
                           [*_form(cat, first, "sms")[1:], ("request_key", "k" * 24)])
    assert r.status_code == 404
    page = await browser.get(f"/console/c/{city.slug}/broadcasts/new")
    assert page.status_code == 200 and "医院 H9" in page.text and 'id="no-sessions"' in page.text

    # its own admin sends; the stranger can neither open it nor see it in the list
    own_browser = new_browser()
    await own_browser.login(own)
    r = await own_browser.post(f"/console/c/{city.slug}/broadcasts/preview", _form(cat, first, "sms")[1:])
    assert r.status_code == 200 and _num(r.text, "preview-members") == "3"
    key = re.search(r'name="request_key" value="([^"]+)"', r.text).group(1)
    r = await own_browser.post(f"/console/c/{city.slug}/broadcasts/send",
                               [*_form(cat, first, "sms")[1:], ("request_key", key)])
    assert r.status_code == 303
    location = r.headers["location"]
    broadcast_id = location.rsplit("/", 1)[1]
    assert f'id="broadcast-{broadcast_id}"' in (await own_browser.get(f"/console/c/{city.slug}/broadcasts")).text
    assert (await browser.get(location)).status_code == 404
    assert f'id="broadcast-{broadcast_id}"' not in (await browser.get(f"/console/c/{city.slug}/broadcasts")).text
    # the city admin sees it
    await browser.login(admin)
    assert (await browser.get(location)).status_code == 200


async def test_roles_without_the_capability_are_refused(rt, city, browser):
    cat = await make_catalogue(rt, city)
    scheduler = await add_staff(rt, city, "scheduler", hospital_id=cat.hospital.id)
    await browser.login(scheduler)
    assert (await browser.get(f"/console/c/{city.slug}/broadcasts")).status_code == 403
    assert (await browser.get(f"/console/c/{city.slug}/broadcasts/new")).status_code == 403
    home = await browser.get(f"/console/c/{city.slug}/")
    assert 'id="nav-broadcasts"' not in home.text


async def test_bad_input_is_answered_with_a_reason_never_a_500(rt, city, browser, admin):
    cat, first, members = await _booked(rt, city)
    await browser.login(admin)
    url = f"/console/c/{city.slug}/broadcasts/preview"
    base = dict(_form(cat, first, "sms"))
    cases = [
        ({"audience": "session:abc"}, 404), ({"audience": "session:99999999999"}, 404),
        ({"audience": "department:123456789"}, 404), ({"audience": "clinic"}, 422),
        ({"audience": "hospital", "day": "2031-02-30"}, 422), ({"hospital": "x1"}, 404),
        ({"hospital": "99999999999"}, 404), ({"text": "字" * 301}, 422),
    ]
    for change, status in cases:
        r = await browser.post(url, list({**base, **change}.items()) + [("channels", "fax")])
        assert r.status_code == status, (change, r.status_code)
    r = await browser.post(url, [(k, v) for k, v in base.items() if k != "channels"] + [("channels", "fax")])
    assert r.status_code == 422 and "渠道" in r.text
    r = await browser.post(f"/console/c/{city.slug}/broadcasts/send", list(base.items()))  # no request key
    assert r.status_code == 422 and "重新预览" in r.text
    assert (await browser.get(f"/console/c/{city.slug}/broadcasts/99999999")).status_code == 404
    assert (await browser.get(f"/console/c/{city.slug}/broadcasts/new?hospital=abc&day=x")).status_code == 404
    assert (await browser.get(f"/console/c/{city.slug}/broadcasts/new?day=x")).status_code == 200
