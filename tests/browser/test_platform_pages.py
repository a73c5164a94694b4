"""The platform's own pages in a real browser, on a phone and on a desktop."""

from __future__ import annotations

import httpx


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


def test_the_real_server_sends_security_headers_and_no_server_name(base_url):
    for path in ("/", "/c/demo/", "/api/v1/demo/hospitals", "/console/login", "/static/guahao.css"):
        r = httpx.get(base_url + path)
        assert r.status_code == 200, path
        assert "script-src 'self'" in r.headers["content-security-policy"], path
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY", path
        assert "server" not in r.headers, path  # no `server: uvicorn`
        assert "strict-transport-security" not in r.headers, path  # plain http


async def test_the_policy_stops_an_injected_inline_handler(chromium, base_url):
    """What a stored XSS would try: markup with an on…= handler. The page's policy refuses to run
    it, and the browser tests' watcher sees the refusal (so a page of ours that needed inline
    script would fail its test)."""
    context = await chromium.new_context()
    page = await context.new_page()
    seen = len(chromium.violations)
    try:
        await page.goto(base_url + "/c/demo/")
        ran = await page.evaluate("""() => new Promise(done => {
            window.injectedRan = false;
            document.body.insertAdjacentHTML('beforeend', '<img src="data:," onload="window.injectedRan = true">');
            setTimeout(() => done(window.injectedRan), 800);
        })""")
        assert ran is False
        await page.wait_for_timeout(200)
        assert any("inline event handler" in v for v in chromium.violations[seen:])
    finally:
        del chromium.violations[seen:]  # expected here; the watcher fails any other test on one
        await context.close()
