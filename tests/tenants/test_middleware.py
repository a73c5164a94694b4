"""Request → city: path prefix first, then host name; never the body."""

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from guahao.tenants.context import current_city
from guahao.tenants.middleware import CityMiddleware, city_slug_from_path
from guahao.tenants.models import CityHost


def test_slug_from_path():
    assert city_slug_from_path("/api/v1/demo/hospitals") == "demo"
    assert city_slug_from_path("/c/shenzhen/") == "shenzhen"
    assert city_slug_from_path("/api/v1/openapi.json") is None
    assert city_slug_from_path("/healthz") is None


def _probe_app(rt):
    async def who(request):
        city = current_city()
        return JSONResponse({"city": city.slug if city else None})

    routes = [Route("/api/v1/{city}/who", who), Route("/who", who), Route("/c/{city}/who", who)]
    return Starlette(routes=routes, middleware=[_mw(rt)])


def _mw(rt):
    from starlette.middleware import Middleware

    return Middleware(CityMiddleware, resolver=rt.resolver)


async def _get(app, url, **kw):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        return await c.get(url, **kw)


async def test_city_from_path_reaches_the_endpoint(rt, city):
    r = await _get(_probe_app(rt), f"/api/v1/{city.slug}/who")
    assert r.json() == {"city": city.slug}
    r = await _get(_probe_app(rt), f"/c/{city.slug}/who")
    assert r.json() == {"city": city.slug}


async def test_unknown_city_is_a_404_with_a_code(rt):
    r = await _get(_probe_app(rt), "/api/v1/atlantis/who")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "city_not_found"
    r = await _get(_probe_app(rt), "/api/v1/" + "x" * 300 + "/who")
    assert r.status_code == 404


async def test_city_from_host_name(rt, city):
    async with rt.db.transaction() as s:
        s.add(CityHost(host=f"{city.slug}.guahao.test", city_id=city.id))
    r = await _get(_probe_app(rt), "/who", headers={"host": f"{city.slug}.guahao.test"})
    assert r.json() == {"city": city.slug}
    r = await _get(_probe_app(rt), "/who", headers={"host": "nobody.example"})
    assert r.json() == {"city": None}


async def test_context_does_not_leak_between_requests(rt, city):
    app = _probe_app(rt)
    await _get(app, f"/api/v1/{city.slug}/who")
    r = await _get(app, "/who")
    assert r.json() == {"city": None}
    assert current_city() is None


async def test_unknown_city_is_a_readable_page_for_a_browser(rt):
    html = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for path in ("/console/c/atlantis/staff", "/c/atlantis/who"):
        r = await _get(_probe_app(rt), path, headers=html)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert 'data-code="city_not_found"' in r.text and "No such city platform" in r.text
    r = await _get(_probe_app(rt), "/api/v1/atlantis/who", headers=html)
    assert r.json()["error"]["code"] == "city_not_found"
