"""Plugins as operators see them: the vendor's list of installed and broken plugins, and a city
admin's plugin list naming a broken plugin instead of offering it."""

from __future__ import annotations

import pytest

from guahao.core.plugins import loader
from guahao.core.plugins.loader import BrokenPlugin
from guahao.tenants.service import configure_plugin

from .conftest import add_vendor


@pytest.fixture
def a_broken_plugin(monkeypatch):
    """A third-party plugin left out at start, as ``discover`` records one."""
    found = loader.discover()
    broken = dict(found.broken)
    broken["his_typo"] = BrokenPlugin("his_typo", "guahao_his_adaptors_typo", "hooks",
                                      "unknown hook 'guahao_his_adaptors' in plugin his_typo")
    monkeypatch.setattr(found, "broken", broken)
    return broken["his_typo"]


async def test_the_vendor_sees_every_plugin_its_version_and_the_broken_ones(rt, city, browser, a_broken_plugin):
    await configure_plugin(rt.db, city, "web")
    vendor = await add_vendor(rt)
    await browser.login(vendor)
    page = (await browser.get("/console/vendor/plugins")).text
    assert 'id="installed-sms_aliyun"' in page and "阿里云短信" in page and "1.0.0" in page
    assert 'id="installed-his_example"' in page and "第三方" in page  # the example is a third party's
    assert 'id="broken-his_typo"' in page and "guahao_his_adaptors" in page
    row = page.split('id="installed-web"')[1].split("</tr>")[0]
    assert "<td>0</td>" not in row  # at least this test's city enabled the site


async def test_a_city_admin_sees_a_broken_plugin_and_cannot_open_it(rt, city, browser, admin, a_broken_plugin):
    await browser.login(admin)
    page = (await browser.get(f"/console/c/{city.slug}/settings/plugins")).text
    assert 'id="broken-his_typo"' in page and "无法加载" in page
    assert f'href="/console/c/{city.slug}/settings/plugins/his_typo"' not in page
    assert (await browser.get(f"/console/c/{city.slug}/settings/plugins/his_typo")).status_code == 404


async def test_staff_of_a_city_cannot_see_the_vendor_plugin_page(rt, city, browser, admin):
    await browser.login(admin)
    assert (await browser.get("/console/vendor/plugins")).status_code in (403, 404)


async def test_a_hospital_admin_sets_their_hospitals_own_plugin_values(rt, city, catalogue, browser):
    from guahao.core.models import Hospital
    from guahao.tenants.context import use_city
    from guahao.tenants.service import get_city

    from .conftest import add_staff

    with use_city(city):
        async with rt.db.transaction() as s:
            other = Hospital(code=f"{catalogue.hospital.code}-2", name="第二医院")
            s.add(other)
            await s.flush()
    await configure_plugin(rt.db, city, "demo_his")
    hadmin = await add_staff(rt, city, "hospital_admin", hospital_id=catalogue.hospital.id)
    await browser.login(hadmin)
    base = f"/console/c/{city.slug}/catalogue/{catalogue.hospital.id}/plugins"
    listing = (await browser.get(base)).text
    assert 'id="hospital-plugin-demo_his"' in listing and "沿用全市设置" in listing
    assert "hospital-plugin-pay_at_hospital" not in listing  # nothing to set per hospital
    page = (await browser.get(f"{base}/demo_his")).text
    assert '<select name="setting:fail_pushes"' in page and "模拟本院 HIS 故障" in page

    refused = await browser.post(f"{base}/demo_his", {"setting:fail_pushes": "sometimes"})
    assert refused.status_code == 422 and 'id="error-fail_pushes"' in refused.text and "请选择是或否" in refused.text
    saved = await browser.post(f"{base}/demo_his", {"setting:fail_pushes": "true"})
    assert saved.status_code == 303
    plugins = await rt.plugins.for_city(await get_city(rt.db, city.slug))
    assert plugins.settings("demo_his", catalogue.hospital.id)["fail_pushes"] is True
    assert plugins.settings("demo_his", other.id)["fail_pushes"] is False
    assert '<option value="true" selected>' in (await browser.get(f"{base}/demo_his")).text

    # another hospital's pages answer as if they did not exist
    elsewhere = f"/console/c/{city.slug}/catalogue/{other.id}/plugins"
    assert (await browser.get(elsewhere)).status_code == 404
    assert (await browser.post(f"{elsewhere}/demo_his", {"setting:fail_pushes": "true"})).status_code == 404
