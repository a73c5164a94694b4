"""Browser tests: Debian's Chromium driven by Playwright (``executable_path``), against the
demo city served by a real uvicorn process. Without Chromium they are deselected.

Playwright's async API runs on the test session's event loop (its sync API would hold a
loop of its own open in this thread and break every async test after it).
"""

from __future__ import annotations

import pytest

from .server import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, demo_server, have_chromium


def pytest_collection_modifyitems(config, items):
    if have_chromium():
        return
    drop = [i for i in items if "tests/browser/" in str(i.fspath).replace("\\", "/")]
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = [i for i in items if i not in drop]


@pytest.fixture(scope="session")
def base_url(tmp_path_factory) -> str:
    with demo_server(tmp_path_factory.mktemp("browser")) as base:
        yield base


class WatchedBrowser:
    """The session's Chromium: every context it opens reports what the pages' Content-Security-
    Policy refused (an inline script, a handler, a resource from elsewhere) to ``violations``."""

    def __init__(self, browser):
        self.browser = browser
        self.violations: list[str] = []

    async def new_context(self, **options):
        context = await self.browser.new_context(**options)
        context.on("console", self._console)
        return context

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            page = message.page.url if message.page else "?"
            self.violations.append(f"{page}: {message.text}")

    def __getattr__(self, name):
        return getattr(self.browser, name)


@pytest.fixture(scope="session")
async def chromium():
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield WatchedBrowser(browser)
        await browser.close()


@pytest.fixture(autouse=True)
def no_csp_violations(request):
    """A browser test fails when any page it opened broke the Content-Security-Policy."""
    if "chromium" not in request.fixturenames:
        yield
        return
    browser = request.getfixturevalue("chromium")
    seen = len(browser.violations)
    yield
    assert browser.violations[seen:] == [], "the Content-Security-Policy refused something"


@pytest.fixture(params=[("phone", PHONE), ("desktop", DESKTOP)], ids=["phone", "desktop"])
async def page(request, chromium):
    name, viewport = request.param
    context = await chromium.new_context(viewport=viewport, locale="zh-CN", is_mobile=name == "phone")
    pg = await context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    await context.close()
