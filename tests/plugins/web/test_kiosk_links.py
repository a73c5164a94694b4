"""Kiosk pages reuse the site's templates: every same-site link on them must lead somewhere the
kiosk serves (no web-only page such as the news, account, review or message log)."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from guahao.core.plugins.manager import configure

from .conftest import bound_kiosk

HREF = re.compile(r'href="([^"]+)"')


def same_site_links(base: str, html: str) -> set[str]:
    found = set()
    for href in HREF.findall(html):
        href = href.replace("&amp;", "&")
        if href.startswith("#") or "://" in href or href.startswith("//"):
            continue
        found.add(urljoin(base, href).split("#", 1)[0])
    return found


async def test_every_link_on_the_kiosk_pages_answers(client, visitor, rt, site_city):
    cat, city = site_city, site_city.city
    await configure(rt, city, "message_log", settings={"public_log": True})
    await visitor.register()
    web_home = await visitor.get("")
    assert 'id="messages-link"' in web_home.text  # the web site shows the log; the kiosk must not

    kiosk = await bound_kiosk(client, rt, cat)
    await kiosk.log_in()
    period = cat.periods[cat.sessions[4].id][0]
    booked = await kiosk.book(period.id)
    assert booked.status_code == 303
    ref = re.search(r"bookings/([^?]+)\?new=1", booked.headers["location"]).group(1)
    pages = ["", f"doctors/{cat.doctor.id}", f"book/{cat.periods[cat.sessions[5].id][0].id}", f"bookings/{ref}",
             f"receipt/{ref}", "bookings"]
    links: set[str] = set()
    for path in pages:
        r = await kiosk.get(path)
        assert r.status_code == 200, path
        assert 'id="messages-link"' not in r.text and 'id="nav-news"' not in r.text
        links |= same_site_links(kiosk.root + path, r.text)
    assert f"{kiosk.root}receipt/{ref}" in links and f"{kiosk.root}bookings/{ref}/cancel" in links
    assert len(links) > 8
    for link in sorted(links):
        r = await client.get(link)
        assert r.status_code != 404, link
        if "/assets/" not in link and not link.startswith("/static/"):  # files, not places to go
            assert link.startswith(kiosk.root), link
