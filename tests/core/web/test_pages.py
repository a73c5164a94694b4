"""Platform pages: landing page, city page, the demo message log, the health check."""

from __future__ import annotations

from datetime import timedelta

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from guahao.core.models import Notification
from guahao.core.web.pages import MESSAGES_PER_PAGE, mask_personal
from guahao.core.web.routes import WebPages
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.db import Database
from guahao.tenants.service import configure_plugin
from guahao.tenants.settings import Settings


async def test_landing_page_tells_a_newcomer_where_to_go(client, city):
    r = await client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert '<html lang="zh-CN">' in page and 'name="viewport"' in page
    for link in ('href="/api/v1/docs"', 'href="/api/v1/openapi.json"', f'href="/c/{city.slug}/"', 'href="/healthz"'):
        assert link in page
    assert city.name in page
    assert "curl" in page and "/auth/token" in page and "/bookings" in page
    head = page.split("</head>")[0]
    assert "http" not in head and 'href="/static/guahao.css"' in head  # no CDN: assets come from here


async def test_static_stylesheet_is_served(client):
    r = await client.get("/static/guahao.css")
    assert r.status_code == 200 and "text/css" in r.headers["content-type"]


async def test_city_page_lists_hospitals_and_departments(client, city, catalogue):
    r = await client.get(f"/c/{city.slug}/")
    assert r.status_code == 200
    page = r.text
    assert catalogue.hospital.name in page and catalogue.department.name in page
    assert "三级甲等" in page and "综合医院" in page and "2 位医生" in page
    assert f"/c/{city.slug}/messages" not in page  # this city's message log is not public


async def test_city_page_without_slash_redirects_and_unknown_city_is_404(client, city):
    r = await client.get(f"/c/{city.slug}")
    assert r.status_code == 308 and r.headers["location"] == f"/c/{city.slug}/"
    assert (await client.get("/c/no-such-city/")).status_code == 404


async def test_healthz_checks_the_database(client):
    r = await client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["database"] == "ok" and body["redis"] in ("ok", "disabled")
    assert body["status"] == "ok"


async def test_healthz_is_503_when_the_database_is_down(rt):
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/nothing", secret_key=rt.settings.secret_key)

    class DownRuntime:
        def __init__(self):
            self.settings = settings
            self.db = Database(settings)
            self.redis = None

    down = DownRuntime()
    app = Starlette(routes=[Route("/healthz", WebPages(down).healthz)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/healthz")
    await down.db.dispose()
    assert r.status_code == 503
    assert r.json() == {"status": "down", "database": "down", "redis": "disabled"}


def test_masking_hides_phone_and_id_numbers():
    text = "张伟 13812345678，身份证 110101198504120019，预约号 GH2024，电话 010-12320001"
    masked = mask_personal(text)
    assert "13812345678" not in masked and "138****5678" in masked
    assert "110101198504120019" not in masked and "1101**********0019" in masked
    assert "010-12320001" in masked and "GH2024" in masked


async def _notifications(rt, city, n: int) -> None:
    start = utcnow() - timedelta(hours=1)
    with use_city(city):
        async with rt.db.transaction() as s:
            s.add_all(
                Notification(
                    kind="booking_confirmed",
                    sender="message_log",
                    recipient=f"138{i:08d}",
                    body=f"第{i}条 您好，您已预约成功。手机 138{i:08d}",
                    status="sent",
                    created_at=start + timedelta(seconds=i),
                )
                for i in range(n)
            )


async def test_message_log_is_private_unless_the_city_makes_it_public(rt, client, city):
    await _notifications(rt, city, 1)
    r = await client.get(f"/c/{city.slug}/messages")
    assert r.status_code == 404
    assert "第0条" not in r.text and "public_log" in r.text


async def test_message_log_masks_phones_newest_first_and_pages(rt, client, city):
    await configure_plugin(rt.db, city, "message_log", settings={"public_log": True})
    total = MESSAGES_PER_PAGE + 5
    await _notifications(rt, city, total)
    first = await client.get(f"/c/{city.slug}/messages")
    assert first.status_code == 200
    page = first.text
    assert "138****0024" in page and "13800000024" not in page
    assert page.index(f"第{total - 1}条") < page.index(f"第{total - 2}条")
    assert page.count('<li class="card">') == MESSAGES_PER_PAGE
    assert "?page=2" in page and f"共 {total} 条" in page
    second = (await client.get(f"/c/{city.slug}/messages?page=2")).text
    assert second.count('<li class="card">') == 5 and "第0条" in second and "第24条" not in second
    assert (await client.get(f"/c/{city.slug}/messages?page=abc")).status_code == 200
    assert (await client.get(f"/c/{city.slug}/messages?page=999")).status_code == 200
    assert f"/c/{city.slug}/messages" in (await client.get(f"/c/{city.slug}/")).text
