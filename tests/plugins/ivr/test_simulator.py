"""The phone in the browser: off by default; when on, its keypad posts drive the signed voice
endpoints server-side, so a booking made on it is a real phone booking."""

from __future__ import annotations

import re

from tests.core.plugins.probes import make_member

from .conftest import enable_ivr, pin_of


def _fields(html: str) -> dict[str, str | list[str]]:
    found: dict = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html):
        if name == "heard":
            found.setdefault("heard", []).append(value.replace("&amp;", "&"))
        else:
            found[name] = value
    return found


class Phone:
    def __init__(self, client, url: str):
        self.client, self.url, self.html = client, url, ""

    async def post(self, **extra) -> str:
        data = {**_fields(self.html), **extra}
        response = await self.client.post(self.url, data=data)
        assert response.status_code == 200, response.text
        self.html = response.text
        return self.html

    async def keys(self, typed: str) -> str:
        for key in typed:
            await self.post(key=key)
        return self.html

    def screen(self) -> str:
        return self.html.split('id="screen"', 1)[1].split("</div>", 1)[0]


async def test_the_simulator_is_off_unless_the_city_turns_it_on(phone_city, client):
    url = f"/c/{phone_city.city.slug}/ivr/simulator"
    assert (await client.get(url)).status_code == 404
    await enable_ivr(phone_city.rt, phone_city.city, simulator=True)
    page = await client.get(url)
    assert page.status_code == 200 and 'id="dial"' in page.text


async def test_a_booking_by_the_simulated_phone(phone_city, client):
    await enable_ivr(phone_city.rt, phone_city.city, simulator=True)
    member = await make_member(phone_city.rt, phone_city.city)
    phone = Phone(client, f"/c/{phone_city.city.slug}/ivr/simulator")
    phone.html = (await client.get(phone.url)).text
    await phone.post(op="dial", **{"from": member.phone})
    assert "请输入密码" in phone.screen()
    await phone.keys(pin_of(member))  # six keys end the PIN by themselves
    assert "预约挂号请按1" in phone.screen()
    await phone.keys("1")
    assert "第一人民医院请按1" in phone.screen()
    await phone.keys("1#")  # the hospital prompt also takes initials, so # ends the choice
    await phone.keys("1")  # 呼吸内科
    await phone.keys("2")  # 王建国
    await phone.keys("1")  # tomorrow
    await phone.keys("1")  # morning
    assert "确认预约请按1" in phone.screen()
    await phone.keys("1")
    assert "预约成功" in phone.screen()
    [booking] = await phone_city.bookings(member.id)
    assert booking.channel == "phone"
    await phone.post(op="hangup")
    assert "已挂断" in phone.screen()
    [call] = await phone_city.calls()
    assert call.minutes_reported and call.booking_id == booking.id


async def test_a_tampered_simulator_form_is_answered_without_an_error(phone_city, client):
    await enable_ivr(phone_city.rt, phone_city.city, simulator=True)
    url = f"/c/{phone_city.city.slug}/ivr/simulator"
    for data in ({"sid": "CAx", "n": "x&y", "keys": "abc", "started": "later", "key": "1"},
                 {"sid": "CAx", "n": "1", "op": "wait"}, {"op": "hangup", "sid": "CAx", "started": "-5"}):
        page = await client.post(url, data=data)
        assert page.status_code == 200 and 'id="screen"' in page.text
