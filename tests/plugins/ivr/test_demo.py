"""The demo city has the phone in the browser: a demo member books by keypad with their PIN
(the last six characters of their ID number)."""

from __future__ import annotations

from guahao.core.demo import data
from guahao.core.demo.seed import seed_demo

from .test_simulator import Phone


async def test_a_demo_member_books_on_the_simulated_phone(rt, client):
    demo = await seed_demo(rt, slug="ivrdemo", name="电话示例市", days=3, history_days=0)
    member = data.MEMBERS[0]  # 张伟, ID number 110101198504120019: PIN 120019
    phone = Phone(client, f"/c/{demo.city.slug}/ivr/simulator")
    phone.html = (await client.get(phone.url)).text
    assert 'id="dial"' in phone.html
    await phone.post(op="dial", **{"from": member.phone})
    await phone.keys("120019")
    assert "预约挂号请按1" in phone.screen()
    await phone.keys("1")
    assert "示例市第一人民医院请按1" in phone.screen() and "更多请按9" in phone.screen()
    await phone.keys("799#")  # 市一院 by its 拼音 initials S-Y-Y
    assert "请选择科室" in phone.screen()
    await phone.keys("1")  # the first department
    await phone.keys("1")  # any doctor
    assert "请选择就诊日期" in phone.screen()
    await phone.keys("1")  # the first day with open sessions
    await phone.keys("1")  # its first half-day
    assert "确认预约请按1" in phone.screen()
    await phone.keys("1")
    assert "预约成功" in phone.screen(), phone.screen()
