"""The console lists a hospital's HL7 messages both ways with the HIS's answers; a hospital
admin sees only their own hospital's."""

from __future__ import annotations

from tests.console.conftest import add_hospital, add_staff, browser, cheap_password_hashing  # noqa: F401  (fixtures)

from .test_listener import free_port
from .test_push import book


async def test_the_message_log_shows_both_ways(his, browser):  # noqa: F811
    from guahao.plugins.his.hl7v2.listener import Listeners
    from guahao.tenants.service import configure_plugin

    port = free_port()
    await configure_plugin(his.rt.db, his.city, "hl7v2", settings={
        "host": "127.0.0.1", "port": his.sim.port, "timeout": 2, "listen_port": port, "listen_host": "127.0.0.1"})
    await his.refresh()
    listeners = Listeners(his.rt, city_ids={his.city.id})
    await listeners.scan()
    try:
        his.sim.reject_next(1, "号源已停诊")
        refused = await book(his, 0, 0)
        accepted = await book(his, 0, 1)
        await his.drain()
        await his.sim.check_in("127.0.0.1", port, booking_id=accepted.id)
    finally:
        for _, server in listeners.servers.values():
            server.close()

    admin = await add_staff(his.rt, his.city, "hospital_admin", hospital_id=his.cat.hospital.id)
    await browser.login(admin)
    url = f"/console/c/{his.city.slug}/catalogue/{his.cat.hospital.id}/plugins/hl7v2/messages"
    systems = await browser.get(f"/console/c/{his.city.slug}/his")  # the Hospital systems page links to it
    assert f'id="hl7-log-{his.cat.hospital.id}" href="{url}"' in systems.text
    page = await browser.get(url)
    assert page.status_code == 200
    html = page.text
    assert "HL7 消息" in html and "号源已停诊" in html and "SIU^S12" in html and "ADT^A04" in html
    assert "发往 HIS" in html and "来自 HIS" in html and "已签到" in html
    assert refused.id in html and accepted.id in html
    assert html.index("ADT^A04") < html.index("SIU^S12")  # newest first

    second = await add_hospital(his.rt, his.city, f"{his.cat.hospital.code}-2")
    other = await add_staff(his.rt, his.city, "hospital_admin", hospital_id=second.id)
    await browser.login(other)
    assert (await browser.get(url)).status_code in (403, 404)
