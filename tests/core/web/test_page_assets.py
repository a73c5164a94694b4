"""No page load asks for anything that answers 404: every stylesheet, script, icon and image a
page names is served, and ``/favicon.ico`` answers for clients that ask without reading."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest


class _Assets(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "link" and a.get("href"):
            self.found.append(a["href"])
        elif tag in ("script", "img") and a.get("src"):
            self.found.append(a["src"])


def _assets(html: str) -> list[str]:
    parser = _Assets()
    parser.feed(html)
    return [u for u in parser.found if u.startswith("/") and not u.startswith("//")]


async def _check(client, path: str) -> list[str]:
    page = await client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    assets = _assets(page.text)
    assert any(re.search(r"favicon|logo", u) for u in assets) or 'rel="icon"' in page.text, path
    missing = [u for u in assets if (await client.get(u)).status_code >= 400]
    assert not missing, (path, missing)
    return assets


async def test_the_favicon_is_served(client):
    r = await client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml") and b"<svg" in r.content


async def test_platform_site_kiosk_console_and_api_pages_name_only_what_exists(rt, city, catalogue, client):
    from guahao.core.plugins.manager import configure as enable

    await enable(rt, city, "web")
    for path in ("/", f"/c/{city.slug}/", f"/c/{city.slug}/login", f"/c/{city.slug}/doctors/{catalogue.doctor.id}",
                 "/console/login", f"/console/c/{city.slug}/login", "/api/v1/docs"):
        await _check(client, path)


@pytest.mark.parametrize("logo", ["", "/static/favicon.svg"])
async def test_a_city_logo_is_its_site_icon(rt, city, client, logo):
    from guahao.core.plugins.manager import configure as enable
    from guahao.tenants.service import get_city

    await enable(rt, city, "web")
    if logo:
        from guahao.tenants.models import City

        async with rt.db.transaction() as s:
            row = await s.get(City, city.id)
            row.branding = {**(row.branding or {}), "logo_url": logo}
            row.config_version += 1
        rt.resolver.invalidate(city.slug)
    page = await client.get(f"/c/{(await get_city(rt.db, city.slug)).slug}/")
    assert f'<link rel="icon" href="{logo or "/static/favicon.svg"}"' in page.text
