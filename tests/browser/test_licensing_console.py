"""Licence and billing in a real browser, on the demo: the vendor sets a new contract version
for the demo city through the form (a mistyped amount first, kept and explained), runs the
invoice for the month it takes effect and finalizes it; the city's administrator then finds
the invoice listed and opens it, on a laptop (1280x800) and a phone (360x740). Every page of
the area fits the screen, and at phone width every link, button and field is at least 32 px
high.

The version takes effect on the first day of next month, so the month invoiced has no usage
yet and its total is the monthly minimum plus VAT: 3,000.00 + 180.00 = 3,180.00 yuan."""

from __future__ import annotations

from datetime import date

import pytest

from guahao.core.demo.staff import PASSWORD
from guahao.tenants.clock import utcnow

from .server import PHONE

LAPTOP = {"width": 1280, "height": 800}
TAP = 32
# Every visible link, button and field of the licensing area's content, with its height.
TARGETS = """() => [...document.querySelectorAll(
    '.lic a, .lic button, .lic input:not([type=hidden]), .lic select, .lic textarea')]
  .map(e => [e.id || e.name || e.getAttribute('href') || e.textContent.trim(), e.getBoundingClientRect().height])
  .filter(([, h]) => h > 0)"""


def _next_month() -> date:
    from zoneinfo import ZoneInfo

    today = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).date()
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


async def _context(chromium, viewport):
    phone = viewport is PHONE
    context = await chromium.new_context(viewport=viewport, locale="zh-CN", is_mobile=phone, has_touch=phone)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    return context, page


async def _fits(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


async def _check_layout(page, *, phone: bool) -> None:
    assert await _fits(page), page.url
    if phone:
        small = [(name, h) for name, h in await page.evaluate(TARGETS) if h < TAP]
        assert small == [], f"{page.url}: tap targets under {TAP} px: {small}"


@pytest.fixture(scope="module")
async def issued(chromium, base_url) -> dict:
    """The vendor's part, on a laptop: a new contract version, the month's run, the invoice
    finalized. Yields the invoice's id and number."""
    first = _next_month()
    period = first.strftime("%Y-%m")
    context, page = await _context(chromium, LAPTOP)
    try:
        await page.goto(base_url + "/console/login")
        await page.fill("#username", "vendor")
        await page.fill("#password", PASSWORD)
        await page.click("#login-submit")
        await page.wait_for_url(base_url + "/console/vendor/")

        await page.click("#nav-vendor-contracts")
        await page.wait_for_url("**/vendor/contracts")
        assert await page.is_visible("#contract-demo")
        await page.click("#contract-open-demo")
        await page.wait_for_url("**/vendor/contracts/demo")
        await page.select_option("#f-model", "revenue_share")
        await page.fill("#f-effective_from", first.isoformat())
        await page.fill("#f-rs_percent", "8")
        await page.fill("#f-rs_per_booking_yuan", "0.50")
        for i in range(1, await page.locator(".tier").count() + 1):
            await page.fill(f"#f-tier_up_to_{i}", "")
            await page.fill(f"#f-tier_price_{i}", "")
        await page.fill("#f-rs_minimum_yuan", "3000.001")  # finer than a fen
        await page.fill("#f-note", "浏览器测试：补充协议")
        await page.click("#contract-save")
        await page.wait_for_selector("#error-rs_minimum_yuan")
        assert "最多两位小数" in await page.inner_text("#error-rs_minimum_yuan")
        assert await page.input_value("#f-rs_minimum_yuan") == "3000.001"
        assert await page.input_value("#f-note") == "浏览器测试：补充协议"
        assert await page.get_attribute("#f-rs_minimum_yuan", "aria-invalid") == "true"
        await page.fill("#f-rs_minimum_yuan", "3,000")
        await page.click("#contract-save")
        await page.wait_for_selector("#flash")
        assert first.isoformat() in await page.inner_text("#flash")
        scheduled = await page.inner_text("#contract-scheduled")
        assert "每笔确认预约 0.50 元" in scheduled and "月保底 3,000.00 元" in scheduled

        await page.click("#nav-vendor-invoices")
        await page.wait_for_url("**/vendor/invoices")
        await page.fill("#run-period", period)
        await page.select_option("#run-city", "demo")
        await page.click("#run-submit")
        await page.wait_for_selector("#run-outcomes")
        assert await page.get_attribute("#outcome-demo", "data-outcome") == "drafted"
        assert "3,180.00" in await page.inner_text("#outcome-demo")
        await page.click("#outcome-open-demo")
        await page.wait_for_selector("#invoice-finalize")
        assert await page.get_attribute("#invoice-state", "data-state") == "draft"
        await page.click("#invoice-finalize")
        await page.wait_for_selector("#flash")
        number = (await page.inner_text("#invoice-number")).strip()
        assert number.startswith("GH-") and number in await page.inner_text("#flash")
        assert await page.get_attribute("#invoice-state", "data-state") == "finalized"
        invoice_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        yield {"id": invoice_id, "number": number, "period": period}
    finally:
        await context.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
async def test_the_city_admin_finds_and_opens_the_issued_invoice(chromium, base_url, issued, viewport):
    phone = viewport is PHONE
    context, page = await _context(chromium, viewport)
    try:
        await page.goto(base_url + "/console/c/demo/login")
        await page.fill("#username", "admin")
        await page.fill("#password", PASSWORD)
        await page.click("#login-submit")
        await page.wait_for_url(base_url + "/console/c/demo/")
        await page.click("#nav-licensing")
        await page.wait_for_url("**/console/c/demo/licensing/")
        assert issued["number"] in await page.inner_text("#overview-invoices")
        assert await page.get_attribute("#licence-state", "data-state") in ("valid", "expiring", "unlicensed")
        await _check_layout(page, phone=phone)

        await page.click("#tab-contract")
        await page.wait_for_url("**/licensing/contract")
        assert "每笔确认预约 0.50 元" in await page.inner_text("#contract-scheduled")
        await _check_layout(page, phone=phone)

        await page.click("#tab-invoices")
        await page.wait_for_url("**/licensing/invoices")
        row = page.locator(f"#invoice-{issued['id']}")
        text = await row.inner_text()
        assert issued["period"] in text and "3,180.00" in text and "已开具" in text
        await _check_layout(page, phone=phone)

        await row.locator("a").click()
        await page.wait_for_url(f"**/licensing/invoices/{issued['id']}")
        assert (await page.inner_text("#invoice-number")).strip() == issued["number"]
        assert "3,180.00" in await page.inner_text("#invoice-total")
        assert "月保底补足" in await page.inner_text("#invoice-lines")
        assert await page.locator("#invoice-actions").count() == 0  # the vendor's actions are not here
        await _check_layout(page, phone=phone)
        href = await page.get_attribute("#invoice-pdf", "href")
        assert href.endswith(f"/licensing/invoices/{issued['id']}/pdf")

        await page.goto(base_url + f"/console/c/demo/licensing/invoices/{issued['id']}/document")
        assert issued["number"] in await page.inner_text("body")

        await page.goto(base_url + "/console/c/demo/licensing/licence")
        assert await page.is_visible("#licence-facts")
        await _check_layout(page, phone=phone)
        await page.goto(base_url + "/console/c/demo/licensing/usage")
        assert await page.is_visible("#tab-usage")
        assert await _fits(page)
    finally:
        await context.close()


async def test_the_vendor_pages_fit_a_phone(chromium, base_url, issued):
    context, page = await _context(chromium, PHONE)
    try:
        await page.goto(base_url + "/console/login")
        await page.fill("#username", "vendor")
        await page.fill("#password", PASSWORD)
        await page.click("#login-submit")
        await page.wait_for_url(base_url + "/console/vendor/")
        for path in ("contracts", "contracts/demo", "invoices", f"invoices/{issued['id']}", "licences", "licences/demo"):
            response = await page.goto(f"{base_url}/console/vendor/{path}")
            assert response.status == 200, path
            await _check_layout(page, phone=True)
        assert "guahao licence sign --key" in await page.inner_text("#renew-command")
    finally:
        await context.close()
