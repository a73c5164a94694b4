"""Links in messages: relative without a known address, absolute with the platform's public
address, and the city's own host name first (``core.notifications.planning``, ``Settings.public_base_url``)."""

from __future__ import annotations

from sqlalchemy import delete

from guahao.core import notifications
from guahao.core.booking import engine
from guahao.core.models import Notification
from guahao.tenants.context import use_city
from guahao.tenants.models import CityHost
from guahao.tenants.settings import Settings
from tests.core.booking.helpers import outbox, run

from .test_feedback import booked
from .test_offers import offered


async def body_of(rt, city, payload: dict, **kw) -> str:
    """The text planned for ``payload``, planned afresh (an earlier row is dropped first)."""
    with use_city(city):
        async with rt.db.transaction() as s:
            await s.execute(delete(Notification).where(Notification.member_id == payload["member_id"]))
        async with rt.db.transaction() as s:
            planned = await notifications.plan(s, city, payload, **kw)
            return planned.note.body


def test_public_base_url_comes_from_the_environment():
    assert Settings.from_env({}).public_base_url == ""
    assert Settings.from_env({"GUAHAO_PUBLIC_BASE_URL": "https://gh.example.cn/"}).public_base_url == "https://gh.example.cn"


async def test_the_offer_message_links_to_its_booking(rt, visitor, site_city):
    city = site_city.city
    await visitor.register()
    offer = await offered(rt, visitor, site_city)
    [note] = await outbox(rt, city, offer.id, "notify")
    path = f"/c/{city.slug}/bookings/{offer.id}"

    relative = await body_of(rt, city, note.payload)
    assert path in relative and "https://" not in relative
    assert (await visitor.client.get(path)).status_code == 200

    based = await body_of(rt, city, note.payload, public_base_url="https://gh.example.cn")
    assert f"https://gh.example.cn{path}" in based

    async with rt.db.transaction() as s:
        s.add(CityHost(host=f"{city.slug}.guahao.test", city_id=city.id))
    hosted = await body_of(rt, city, note.payload, public_base_url="https://gh.example.cn")
    assert f"https://{city.slug}.guahao.test{path}" in hosted and "gh.example.cn" not in hosted
    with use_city(city):
        async with rt.db.transaction() as s:
            planned = await notifications.plan(s, city, note.payload)
    assert planned.params["url"] == f"https://{city.slug}.guahao.test{path}"


async def test_the_survey_invitation_links_to_the_survey(rt, visitor, site_city):
    city = site_city.city
    await visitor.register()
    ref = await booked(visitor, site_city)
    await run(rt, city, engine.check_in, ref)
    [note] = [n for n in await outbox(rt, city, ref, "notify") if n.payload["kind"] == "survey_invitation"]
    path = f"/c/{city.slug}/survey/{ref}"

    relative = await body_of(rt, city, note.payload)
    assert path in relative and "https://" not in relative
    based = await body_of(rt, city, note.payload, public_base_url="https://gh.example.cn/")
    assert f"https://gh.example.cn{path}" in based
    assert (await visitor.client.get(path)).status_code == 200
