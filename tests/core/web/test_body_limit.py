"""Request bodies are capped in the app, before any multipart parsing or CSRF check: a 30 MB
post to a log-in page is refused with 413 without being read; the console's catalogue import
keeps its larger cap (the importer's own file limits)."""

from __future__ import annotations

import httpx
import pytest

from guahao.core.importing.reader import DEFAULT_LIMITS
from guahao.core.plugins.manager import configure
from guahao.core.web.limits import BodyLimit, upload_bytes
from tests.console.conftest import Browser, add_staff

MiB = 1024 * 1024


@pytest.fixture
async def slug(rt, city) -> str:
    await configure(rt, city, "web")
    return city.slug


async def _raw(app, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, dict, int]:
    """Call the ASGI app directly: (status, headers, bytes of the body the app asked for)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("203.0.113.5", 40000), "server": ("testserver", 80)}
    pending = list(chunks)
    taken = 0
    sent: dict = {}

    async def receive():
        nonlocal taken
        if not pending:
            return {"type": "http.disconnect"}
        body = pending.pop(0)
        taken += len(body)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message):
        if message["type"] == "http.response.start":
            sent["status"] = message["status"]
            sent["headers"] = {k.decode(): v.decode() for k, v in message["headers"]}

    await app(scope, receive, send)
    return sent["status"], sent["headers"], taken


async def test_a_declared_oversize_body_is_refused_unread(app, slug):
    headers = {"content-type": "multipart/form-data; boundary=x", "content-length": str(30 * MiB)}
    status, answer, taken = await _raw(app, f"/c/{slug}/login", headers, [b"--x\r\n" + b"a" * 1024])
    assert (status, taken) == (413, 0)
    assert answer["content-security-policy"] and answer["connection"] == "close"


async def test_a_streamed_body_is_cut_off_at_the_cap(app, slug):
    headers = {"content-type": "application/x-www-form-urlencoded"}  # no length: chunked
    chunks = [b"login=1&password=" + b"a" * (256 * 1024)] + [b"a" * (256 * 1024)] * 20
    status, _, taken = await _raw(app, f"/c/{slug}/login", headers, chunks)
    assert status == 413 and taken <= 2 * MiB  # stopped reading soon after the cap


async def test_the_api_is_told_in_json(client, slug):
    r = await client.post(f"/api/v1/{slug}/auth/token", content=b"{" + b" " * (2 * MiB) + b"}",
                          headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


async def test_a_page_is_told_in_both_languages(client, slug):
    r = await client.post(f"/c/{slug}/login", files={"f": ("big.bin", b"0" * (2 * MiB))})
    assert r.status_code == 413 and "请求内容过大" in r.text and "too large" in r.text


async def test_ordinary_forms_pass(client, slug):
    r = await client.post(f"/c/{slug}/login", data={"login": "13800138000", "password": "x"})
    assert r.status_code == 403  # reached the page: the CSRF check refused it


async def test_the_console_import_keeps_its_larger_cap(rt, city, app):
    assert upload_bytes() > DEFAULT_LIMITS.files * DEFAULT_LIMITS.file_bytes
    admin = await add_staff(rt, city, "city_admin")
    browser = Browser(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver"))
    await browser.login(admin)
    await browser.get(f"/console/c/{city.slug}/import")
    big = b"code,name\n" + b"01,x\n" * (3 * MiB // 5)  # 3 MiB: above the general cap, within the import's
    r = await browser.client.post(f"/console/c/{city.slug}/import/preview", data={"csrf": browser.csrf},
                                  files=[("files", ("districts.csv", big, "text/csv"))])
    assert r.status_code != 413 and 'id="import-errors"' in r.text  # read and checked by the importer
    headers = {"content-type": "multipart/form-data; boundary=x", "content-length": str(upload_bytes() + 1)}
    status, _, taken = await _raw(app, f"/console/c/{city.slug}/import/preview", headers, [b"--x"])
    assert (status, taken) == (413, 0)


def test_the_cap_is_a_setting(rt):
    from guahao.tenants.settings import Settings

    assert Settings.from_env({}).max_body_bytes == MiB
    assert Settings.from_env({"GUAHAO_MAX_BODY_BYTES": "2097152"}).max_body_bytes == 2 * MiB
    assert isinstance(BodyLimit(None, max_bytes=10).max_bytes, int)
