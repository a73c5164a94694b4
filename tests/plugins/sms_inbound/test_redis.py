"""SMS booking with Redis (``REDIS_URL``): two web processes share the booking gate, and a
gateway that delivers one message to both at once books once."""

from __future__ import annotations

import asyncio

import httpx

from guahao.core.app import create_app
from guahao.core.jobs import drain_in_process
from guahao.core.runtime import Runtime
from tests.core.plugins.probes import make_member
from tests.factories import make_catalogue
from tests.fakes.sms_uplink import FakeUplink

from .conftest import CREDENTIALS, SmsCity, enable_sms_inbound


async def test_two_processes_on_one_redis_book_a_message_once_and_share_the_sold_out_gate(redis_rt, city):
    cat = await make_catalogue(redis_rt, city, capacity=1, periods=1)
    await enable_sms_inbound(redis_rt, city)
    other = Runtime(redis_rt.settings)
    await other.start()
    apps = [create_app(redis_rt.settings, runtime=r) for r in (redis_rt, other)]
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://t") for a in apps]
    try:
        base = f"/c/{city.slug}/plugins/sms_inbound"
        gateways = [FakeUplink(c, base, "generic", CREDENTIALS["generic"]) for c in clients]
        first, second = await make_member(redis_rt, city), await make_member(redis_rt, city, name="李四")
        push = gateways[0].build(first.phone, "预约*张三*明天*市一院*呼吸内科*王建国")
        answers = await asyncio.gather(gateways[0].push(push), gateways[1].push(push))
        assert all(FakeUplink.accepted(a) for a in answers)
        await drain_in_process(redis_rt, city_id=city.id)
        view = SmsCity(redis_rt, cat, clients[0])
        [booking] = await view.bookings(first.id)
        assert booking.channel == "sms"
        # The only unit is gone: the other process's member hears "sold out" from the shared gate.
        await gateways[1].send(second.phone, "预约*李四*明天*市一院*呼吸内科*王建国")
        await drain_in_process(other, city_id=city.id)
        assert await view.bookings(second.id) == []
        assert (await view.replies(second.phone))[-1] == "预约未成功：该时段号源已约满，请选择其他时段或加入候补。"
        assert len(await view.messages()) == 2
    finally:
        for c in clients:
            await c.aclose()
        await other.stop()
