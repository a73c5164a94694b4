"""The demo's district bureau viewer (``bureau.east``, 东城区) in a real browser, on a laptop
(1280x800) and a tablet (820x1180): the overview and a report draw their charts, the filters
narrow the figures, and another district — by link, by URL or by a tampered form — is refused.
"""

from __future__ import annotations

import pytest

from guahao.core.demo.staff import PASSWORD

LAPTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}
DRAWN = "[...document.querySelectorAll('[data-chart]')].every(e => e.dataset.drawn)"
# A drawn canvas has pixels that are not transparent.
CANVAS_PAINTED = """sel => {
  const canvas = document.querySelector(sel + ' canvas');
  if (!canvas || !canvas.width || !canvas.height) return false;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) return true; }
  return false;
}"""


@pytest.fixture(params=[("laptop", LAPTOP), ("tablet", TABLET)], ids=["laptop", "tablet"])
async def viewer(request, chromium, base_url):
    name, viewport = request.param
    context = await chromium.new_context(viewport=viewport, locale="zh-CN", has_touch=name == "tablet")
    page = await context.new_page()
    page.set_default_timeout(15_000)
    await page.goto(base_url + "/console/c/demo/login")
    await page.fill("#username", "bureau.east")
    await page.fill("#password", PASSWORD)
    await page.click("#login-submit")
    await page.wait_for_url(base_url + "/console/c/demo/")
    yield page
    await context.close()


async def _fits(page) -> bool:
    return await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


async def _district_ids(page) -> tuple[str, list[str]]:
    """The viewer's own district (the only one the filter offers) and two that are not
    theirs: the demo city's three districts were created together, so their ids follow."""
    mine = await page.eval_on_selector_all("#f-district option", "os => os.map(o => o.value).filter(Boolean)")
    assert len(mine) == 1
    own = int(mine[0])
    return str(own), [str(own + 1), str(own + 2)]


async def test_bureau_viewer_dashboards(viewer, base_url):
    page = viewer
    await page.click("#nav-dashboards")
    await page.wait_for_url("**/dashboards")
    await page.wait_for_function(DRAWN)
    assert await page.evaluate(CANVAS_PAINTED, "#chart-bookings-day")
    assert await page.is_visible("#kpi-bookings")
    assert "东城区" in await page.inner_text("#dash-quick")
    assert await _fits(page)
    own, others = await _district_ids(page)

    # The hospitals offered are those of 东城区 only.
    hospitals = await page.eval_on_selector_all("#f-hospital option", "os => os.map(o => o.textContent)")
    assert any("第一人民医院" in h for h in hospitals) and not any("西城区" in h or "南山区" in h for h in hospitals)

    # A report: slots of the fortnight ahead (the demo city's schedule starts today), by hospital.
    await page.click("#tab-slots")
    await page.wait_for_url("**/dashboards/slots**")
    await page.click("#quick-ahead")
    await page.wait_for_url("**range=ahead**")
    await page.wait_for_function(DRAWN)
    assert await page.evaluate(CANVAS_PAINTED, "#chart-report")
    rows_all = await page.eval_on_selector_all("#table-report tbody th[scope=row]", "ts => ts.map(t => t.textContent)")
    assert len(rows_all) > 1
    assert await _fits(page)

    # Filter to one hospital: the table holds that hospital alone.
    value = await page.eval_on_selector("#f-hospital", "s => s.options[1].value")
    name = await page.eval_on_selector("#f-hospital", "s => s.options[1].textContent")
    await page.select_option("#f-hospital", value)
    await page.click("#dash-show")
    await page.wait_for_url(f"**hospital={value}**")
    await page.wait_for_function(DRAWN)
    rows = await page.eval_on_selector_all("#table-report tbody th[scope=row]", "ts => ts.map(t => t.textContent)")
    assert rows == [name]
    assert "hospital=" + value in await page.get_attribute("#export-xlsx", "href")

    # Another district by URL, and by a tampered form field: 404.
    for other in others:
        response = await page.goto(f"{base_url}/console/c/demo/dashboards/slots?district={other}")
        assert response.status == 404
    await page.goto(f"{base_url}/console/c/demo/dashboards/slots?range=ahead")
    await page.eval_on_selector("#f-district", f"s => {{ s.options[0].value = '{others[0]}'; }}")
    async with page.expect_navigation() as nav:
        await page.click("#dash-show")
    assert (await nav.value).status == 404
    response = await page.goto(f"{base_url}/console/c/demo/dashboards/slots?district={own}")
    assert response.status == 200
