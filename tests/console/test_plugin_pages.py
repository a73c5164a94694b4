"""Plugins as operators see them: the vendor's list of installed and broken plugins, and a city
admin's plugin list naming a broken plugin instead of offering it."""

from __future__ import annotations

import pytest

from core.plugins import loader
from core.plugins.loader import BrokenPlugin
from tenants.service import configure_plugin

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
