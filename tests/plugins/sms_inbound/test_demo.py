"""The demo city has the mobile phone in the browser: a demo member picked from its list books
by SMS and reads the confirmation the city's message log sent back."""

from __future__ import annotations

from guahao.core.demo import data
from guahao.core.demo.seed import seed_demo
from guahao.core.jobs import drain_in_process

from .test_simulator import Phone


async def test_a_demo_member_books_by_sms_on_the_simulated_phone(rt, client):
    demo = await seed_demo(rt, slug="smsdemo", name="短信示例市", days=3, history_days=0)
    member = data.MEMBERS[0]  # 张伟
    url = f"/c/{demo.city.slug}/sms/simulator"
    page = await client.get(url)
    assert page.status_code == 200
    for each in data.MEMBERS:  # every demo member's number is offered, with the name to sign with
        assert f"{each.name} {each.phone}" in page.text
    chosen = await client.get(url, params={"phone": member.phone})
    assert 'data-text="预约*张伟*明天*市一院*消化内科"' in chosen.text
    phone = Phone(client, demo.city.slug, member.phone)
    assert (await phone.send("预约*张伟*明天*市一院*消化内科")).status_code == 303
    await drain_in_process(rt, city_id=demo.city.id)
    reply = await phone.last_reply()
    assert "预约成功：示例市第一人民医院" in reply and "消化内科" in reply and "预约号" in reply, reply
