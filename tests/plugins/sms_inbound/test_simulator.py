"""The mobile phone in the browser: off by default; when on, a text sent from it is signed and
posted to the city's generic uplink webhook, and the conversation shows the reply as the
city's message log sent it — so a booking made on it is a real SMS booking."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import select

from guahao.core.errors import ValidationFailed
from guahao.core.plugins.manager import configure
from guahao.plugins.channels.sms_inbound.models import SmsInboundMessage
from guahao.tenants.context import use_city
from tests.core.plugins.probes import make_member

from .conftest import SECRETS, enable_sms_inbound


def md(day) -> str:
    return f"{day.month}月{day.day}日"


class Phone:
    """The simulator page as a visitor uses it without script: the compose form, then the
    conversation the page's script reloads."""

    def __init__(self, client, city_slug: str, phone: str):
        self.client, self.url, self.phone = client, f"/c/{city_slug}/sms/simulator", phone

    async def send(self, text: str):
        return await self.client.post(self.url, data={"phone": self.phone, "text": text})

    async def thread(self) -> list[tuple[str, str]]:
        """``(sent|received, text)`` of each bubble, oldest first."""
        answer = await self.client.get(self.url + "/thread", params={"phone": self.phone})
        assert answer.status_code == 200, answer.text
        return [(kind, unescape(text)) for kind, text in
                re.findall(r'<div class="msg (sent|received)">\s*<p class="text">(.*?)</p>', answer.text, re.S)]

    async def last_reply(self) -> str:
        return [text for kind, text in await self.thread() if kind == "received"][-1]


async def test_the_simulator_is_off_unless_the_city_turns_it_on(sms_city, client):
    base = f"/c/{sms_city.city.slug}/sms/simulator"
    for path in ("", "/thread?phone=13800000001", "/assets/simulator.js"):
        answer = await client.get(base + path)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert (await client.post(base, data={"phone": "13800000001", "text": "帮助"})).status_code == 404
    assert await sms_city.messages() == []
    await enable_sms_inbound(sms_city.rt, sms_city.city, simulator=True)
    page = await client.get(base)
    assert page.status_code == 200 and 'id="phone"' in page.text
    # no inline script: the page's only script is its own file, served while the simulator is on
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="simulator/assets/simulator.js" defer>']
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = await client.get(base + "/assets/simulator.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert (await client.get(base + "/assets/other.js")).status_code == 404


async def test_book_list_and_cancel_on_the_simulated_phone(sms_city, client):
    member = await make_member(sms_city.rt, sms_city.city, name="张三")
    await enable_sms_inbound(sms_city.rt, sms_city.city, simulator=True, simulator_phones=[member.phone])
    page = await client.get(f"/c/{sms_city.city.slug}/sms/simulator")
    assert f"张三 {member.phone}" in page.text  # the number offered to pick, with its member's name
    chosen = await client.get(f"/c/{sms_city.city.slug}/sms/simulator", params={"phone": member.phone})
    assert "预约*张三*明天*市一院*呼吸内科" in chosen.text and "（暂无短信）" in chosen.text  # the example to tap
    phone = Phone(client, sms_city.city.slug, member.phone)

    sent = await phone.send(f"预约*张三*{md(sms_city.tomorrow)}*市一院*呼吸内科*王建国*上午")
    assert sent.status_code == 303 and sent.headers["location"] == f"simulator?phone={member.phone}"
    assert [kind for kind, _ in await phone.thread()] == ["sent"]  # not answered before the outbox runs
    assert "平台处理中" in (await client.get(phone.url + "/thread", params={"phone": member.phone})).text
    [message] = await sms_city.messages()  # it came in through the webhook, as a gateway's push
    assert message.provider == "generic" and message.message_id.startswith("sim-") and message.phone == member.phone
    await sms_city.drain()
    [booking] = await sms_city.bookings(member.id)
    assert booking.channel == "sms" and booking.status == "confirmed"
    thread = await phone.thread()
    assert thread[0] == ("sent", f"预约*张三*{md(sms_city.tomorrow)}*市一院*呼吸内科*王建国*上午")
    reply = await phone.last_reply()
    assert reply.startswith(f"【{sms_city.city.name}预约挂号】预约成功") and booking.id in reply
    assert f"取消请回复：取消 {booking.id}" in reply
    assert reply.split("】", 1)[1] in await sms_city.replies(member.phone)  # the message log's row, as sent
    chosen = await client.get(phone.url, params={"phone": member.phone})
    assert f'data-text="取消 {booking.id}"' in chosen.text  # the cancel example names the next booking

    await phone.send("查询")
    await sms_city.drain()
    listed = await phone.last_reply()
    assert "您的预约：1." in listed and booking.id in listed

    await phone.send(f"取消 {booking.id}")
    await sms_city.drain()
    assert (await phone.last_reply()).startswith(f"【{sms_city.city.name}预约挂号】已取消预约{booking.id}")
    [cancelled] = await sms_city.bookings(member.id)
    assert cancelled.status == "cancelled"
    thread = await phone.thread()  # oldest first, newest at the bottom
    assert [kind for kind, _ in thread] == ["sent", "received", "sent", "received", "sent", "received", "received"]
    assert [text for kind, text in thread if kind == "sent"] == [
        f"预约*张三*{md(sms_city.tomorrow)}*市一院*呼吸内科*王建国*上午", "查询", f"取消 {booking.id}"]
    # the phone also gets the platform's own notice of the cancellation, as a real one would
    assert any("您的预约已取消" in text for kind, text in thread[-2:])
    assert [m.outcome for m in await sms_city.messages()] == ["booked", "listed", "cancelled"]


async def test_an_unregistered_phone_is_told_how_to_register(sms_city, client):
    await enable_sms_inbound(sms_city.rt, sms_city.city, simulator=True)
    phone = Phone(client, sms_city.city.slug, "13912345670")
    assert (await phone.send("预约*张三*明天*市一院*呼吸内科")).status_code == 303
    await sms_city.drain()
    reply = await phone.last_reply()
    assert "本手机号尚未在" in reply and "实名注册" in reply and "身份证" in reply
    [message] = await sms_city.messages()
    assert message.outcome == "unknown_phone"


async def test_what_the_simulator_cannot_send_is_explained_and_nothing_is_stored(sms_city, client):
    url = f"/c/{sms_city.city.slug}/sms/simulator"
    await enable_sms_inbound(sms_city.rt, sms_city.city, simulator=True)
    for data, said in (({"phone": "12345", "text": "帮助"}, "请输入11位手机号"),
                       ({"phone": "13800000001", "text": "  "}, "请先写短信内容"),
                       ({"phone": "+86 138-0000-0001"}, "请先写短信内容")):
        answer = await client.post(url, data=data)
        assert answer.status_code == 200 and said in answer.text
    assert "请输入11位手机号" in (await client.get(url, params={"phone": "abc"})).text
    assert await sms_city.messages() == []


async def test_without_the_generic_secret_the_simulator_says_so_and_posts_nothing(rt, city, client):
    await configure(rt, city, "sms_inbound", settings={"simulator": True},
                    secrets={"aliyun_token": SECRETS["aliyun_token"]})
    answer = await client.post(f"/c/{city.slug}/sms/simulator", data={"phone": "13800000001", "text": "帮助"})
    assert answer.status_code == 200 and "generic_secret" in answer.text and "帮助</textarea>" in answer.text
    with use_city(city):
        async with rt.db.transaction() as s:
            assert (await s.scalars(select(SmsInboundMessage))).all() == []


async def test_the_setting_takes_only_mobile_numbers(sms_city):
    try:
        await configure(sms_city.rt, sms_city.city, "sms_inbound", settings={"simulator_phones": ["12345"]},
                        secrets=dict(SECRETS))
    except ValidationFailed as exc:
        assert "12345" in str(exc) or "simulator_phones" in str(exc)
    else:
        raise AssertionError("a number that is not a mobile number was accepted")
