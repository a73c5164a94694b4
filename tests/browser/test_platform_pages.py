"""The platform's own pages in a real browser, on a phone and on a desktop."""

from __future__ import annotations


async def _no_horizontal_scroll(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


async def test_landing_page_says_what_this_is_and_where_to_go(page, base_url):
    await page.goto(base_url + "/")
    assert "预约挂号" in await page.inner_text("body")
    hrefs = await page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
    assert "/api/v1/docs" in hrefs and any(h and h.startswith("/c/demo/") for h in hrefs)
    assert await _no_horizontal_scroll(page)


async def test_api_docs_page_renders_every_booking_path(page, base_url):
    await page.goto(base_url + "/api/v1/docs")
    body = await page.inner_text("body")
    for path in ("/api/v1/{city}/bookings", "/api/v1/{city}/availability", "/api/v1/{city}/auth/token"):
        assert path in body
    assert "slot_full" in body
