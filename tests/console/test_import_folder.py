"""Console uploads wait in the folder the settings name (``GUAHAO_IMPORT_DIR``)."""

from __future__ import annotations

import dataclasses
import re

from guahao.core.demo.files import DEMO_DIR

TOKEN_RE = re.compile(r'name="token" value="([^"]+)"')


async def test_uploads_wait_in_the_settings_folder(rt, city, browser, admin, tmp_path, monkeypatch):
    monkeypatch.setattr(rt, "settings", dataclasses.replace(rt.settings, import_dir=str(tmp_path / "shared")))
    await browser.login(admin)
    await browser.get(f"/console/c/{city.slug}/import")
    files = [("files", ("districts.csv", (DEMO_DIR / "districts.csv").read_bytes(), "text/csv"))]
    r = await browser.client.post(f"/console/c/{city.slug}/import/preview", files=files, data={"csrf": browser.csrf})
    assert r.status_code == 200, r.text
    token = TOKEN_RE.search(r.text).group(1)
    assert (tmp_path / "shared" / token / "meta.json").is_file()
    done = await browser.post(f"/console/c/{city.slug}/import/apply", {"token": token})
    assert done.status_code == 200 and 'id="import-done"' in done.text
    assert not (tmp_path / "shared" / token).exists()
