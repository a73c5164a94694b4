"""Security headers on every response of the patient site, the kiosk, the API, the console and
the platform pages: a Content-Security-Policy that runs no inline script, nosniff, a referrer
policy, no framing, HSTS over HTTPS only, and no ``server: uvicorn``."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from guahao.core.plugins.manager import configure

ROOT = Path(__file__).resolve().parents[3]


def directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.fixture
async def paths(rt, city, catalogue) -> list[str]:
    await configure(rt, city, "web")
    s = city.slug
    return ["/", "/healthz", "/favicon.ico", "/static/guahao.css", f"/c/{s}/", f"/c/{s}/login",
            f"/c/{s}/doctors/{catalogue.doctor.id}", f"/c/{s}/kiosk/", f"/c/{s}/assets/site.css",
            f"/api/v1/{s}/hospitals", "/api/v1/openapi.json", "/api/v1/docs", "/api/v1/nowhere/hospitals",
            "/c/nowhere/", "/console/login", f"/console/c/{s}/login", "/console/static/console.css", "/no/such/page"]


def assert_secure(r: httpx.Response) -> None:
    where = f"{r.request.method} {r.url.path} ({r.status_code})"
    csp = directives(r.headers.get("content-security-policy", ""))
    assert csp.get("default-src") == ["'self'"], where
    assert csp.get("script-src") == ["'self'"], where  # no inline script, no eval
    assert csp.get("object-src") == ["'none'"] and csp.get("base-uri") == ["'self'"], where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert r.headers.get("x-frame-options") == "DENY", where
    assert r.headers.get("x-content-type-options") == "nosniff", where
    assert r.headers.get("referrer-policy") in ("same-origin", "strict-origin-when-cross-origin", "no-referrer"), where
    assert "server" not in r.headers, where


async def test_every_response_carries_the_security_headers(client, paths):
    for path in paths:
        r = await client.get(path, headers={"accept": "text/html"})
        assert_secure(r)
        assert "strict-transport-security" not in r.headers, path  # plain http: no HSTS
    posted = await client.post(paths[5], data={"login": "x", "password": "y"})  # a refusal (no CSRF token)
    assert posted.status_code == 403
    assert_secure(posted)


async def test_hsts_only_over_https(app, paths):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        for path in (paths[4], "/api/v1/openapi.json", "/console/login"):
            r = await c.get(path)
            assert_secure(r)
            assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains", path


TEMPLATES = [p for d in ("core", "plugins", "operator_console", "licensing") for p in (ROOT / d).rglob("*.html")]
SCRIPT = re.compile(r"<script\b([^>]*)>", re.I)
HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def test_templates_have_no_inline_script():
    """What the policy would block: inline script blocks (JSON data blocks are not run),
    ``on…=`` handler attributes and ``javascript:`` URLs."""
    assert len(TEMPLATES) > 50
    for path in TEMPLATES:
        html = path.read_text()
        for attrs in SCRIPT.findall(html):
            assert "src=" in attrs or 'type="application/json"' in attrs, f"{path}: inline <script{attrs}>"
        assert not HANDLER.search(html), f"{path}: an on…= handler"
        assert "javascript:" not in html.lower(), f"{path}: a javascript: URL"


def test_the_server_does_not_name_itself(monkeypatch):
    import uvicorn

    from guahao.core import cli

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    cli._serve("127.0.0.1", 8000)
    assert seen["server_header"] is False and seen["proxy_headers"] is False
