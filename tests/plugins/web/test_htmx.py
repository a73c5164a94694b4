"""Progressive enhancement with htmx: the same URLs answer a region for search-as-you-type
and the whole page for everything else (no JavaScript, boosted links, history restores)."""

from __future__ import annotations

import re

HX = {"HX-Request": "true"}


async def test_htmx_is_vendored_and_loaded_deferred(visitor):
    home = await visitor.get("")
    assert '<script src="' + visitor.root + 'assets/vendor/htmx.min.js" defer></script>' in home.text
    assert '"historyCacheSize":0' in home.text  # pages with personal data never go to localStorage
    script = await visitor.get("assets/vendor/htmx.min.js")
    assert script.status_code == 200 and "htmx" in script.text[:2000]
    licence = await visitor.get("assets/vendor/htmx.LICENSE.txt")
    assert licence.status_code == 200 and "Zero-Clause BSD" in licence.text


async def test_search_as_you_type_gets_the_results_region_only(visitor, site_city):
    q = site_city.doctor.name
    region = await visitor.get(f"?q={q}", headers={**HX, "HX-Target": "doctor-search"})
    assert region.status_code == 200 and "<html" not in region.text and "<h2>" in region.text
    assert f"doctors/{site_city.doctor.id}" in region.text and 'id="doctor-results"' in region.text
    assert "HX-Request" in region.headers["vary"]
    none = await visitor.get("?q=nobody-at-all", headers={**HX, "HX-Target": "doctor-search"})
    assert 'id="no-doctor"' in none.text and "<html" not in none.text


async def test_everything_else_gets_the_whole_page(visitor, site_city):
    q = site_city.doctor.name
    for headers in ({}, {**HX, "HX-Boosted": "true"}, {**HX, "HX-Target": "doctor-search", "HX-History-Restore-Request": "true"},
                    {**HX, "HX-Target": "main"}):
        page = await visitor.get(f"?q={q}", headers=headers)
        assert page.status_code == 200 and "<html" in page.text and f"doctors/{site_city.doctor.id}" in page.text, headers
        assert 'id="doctor-search"' in page.text


async def test_department_search_region(visitor, site_city):
    path = f"departments/{site_city.department.id}"
    region = await visitor.get(f"{path}?q={site_city.doctor.specialty}", headers={**HX, "HX-Target": "department-doctors"})
    assert "<html" not in region.text and f"doctors/{site_city.doctor.id}" in region.text
    page = await visitor.get(f"{path}?q={site_city.doctor.specialty}")
    assert "<html" in page.text and 'hx-target="#department-doctors"' in page.text


async def test_display_preferences_are_never_boosted(visitor):
    """The language and text-size switches change <html> itself: they must reload the page."""
    home = await visitor.get("")
    [form] = re.findall(r'<form[^>]*action="[^"]*preferences"[^>]*>', home.text)
    assert 'hx-boost="false"' in form
