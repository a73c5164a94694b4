"""Phone booking with Redis (``REDIS_URL``): two web processes serve one call turn by turn, and
the platform posting the confirming step to both at once books once."""

from __future__ import annotations

import asyncio

import httpx

from guahao.core.app import create_app
from guahao.core.runtime import Runtime
from tests.core.plugins.probes import make_member
from tests.factories import make_catalogue

from .conftest import PhoneCity, enable_ivr
from .test_calls import book_by_phone


async def test_two_processes_serve_one_call_and_a_doubled_step_books_once(redis_rt, city):
    cat = await make_catalogue(redis_rt, city)
    await enable_ivr(redis_rt, city)
    other = Runtime(redis_rt.settings)
    await other.start()
    apps = [create_app(redis_rt.settings, runtime=r) for r in (redis_rt, other)]
    clients = [httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://testserver") for a in apps]
    try:
        view = PhoneCity(redis_rt, cat, clients[0])
        member = await make_member(redis_rt, city)
        caller, read_back = await book_by_phone(view, member)
        assert "确认预约请按1" in read_back.text
        twin = view.caller(member.phone, call_sid=caller.call_sid)
        twin.client, twin.last = clients[1], caller.last  # the same call, reaching the other process
        answers = await asyncio.gather(caller.press("1"), twin.press("1"))
        assert [a.status for a in answers] == [200, 200] and answers[0].body == answers[1].body
        assert answers[0].text.startswith("预约成功")
        [booking] = await view.bookings(member.id)
        assert booking.channel == "phone"
        # The next turn, again posted to both: one payment link is queued.
        links = await asyncio.gather(caller.press("2"), twin.press("2"))
        assert all("支付链接已通过短信发送" in a.text for a in links)
        [text] = await view.texts(member.phone)
        assert booking.id in text.body
        [call] = await view.calls()
        assert call.turn == 10 and call.booking_id == booking.id
    finally:
        for c in clients:
            await c.aclose()
        await other.stop()
