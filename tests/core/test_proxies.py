"""Forwarded headers count only from the configured proxies: a client cannot claim another
address (to slip past per-address throttles) or HTTPS by sending the headers itself."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from guahao.core.app import create_app
from guahao.core.hookspecs import hookimpl
from tests.core.plugins.probes import enable

FORWARDED = {"X-Forwarded-For": "198.51.100.77", "X-Forwarded-Proto": "https"}


class Echo:
    """A plugin route that says what address and scheme the app saw."""

    @hookimpl
    def guahao_routes(self):
        async def echo(request: Request) -> JSONResponse:
            return JSONResponse({"client": request.client.host, "scheme": request.url.scheme})

        return [Route("/echo", echo)]


@pytest.fixture
async def echo_city(rt, city, register_plugin):
    register_plugin(Echo(), "echo_probe")
    return await enable(rt, city, "echo_probe")


async def _seen(rt, city, trusted: tuple[str, ...], client_host: str) -> dict:
    app = create_app(dataclasses.replace(rt.settings, trusted_proxies=trusted), runtime=rt)
    transport = httpx.ASGITransport(app=app, client=(client_host, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get(f"/c/{city.slug}/plugins/echo_probe/echo", headers=FORWARDED)
    assert r.status_code == 200, r.text
    return r.json()


async def test_a_trusted_proxy_names_the_client_and_the_scheme(rt, echo_city):
    assert await _seen(rt, echo_city, ("10.0.0.9",), "10.0.0.9") == {"client": "198.51.100.77", "scheme": "https"}


async def test_anyone_else_sending_the_headers_is_not_believed(rt, echo_city):
    assert await _seen(rt, echo_city, ("10.0.0.9",), "203.0.113.7") == {"client": "203.0.113.7", "scheme": "http"}


async def test_with_no_trusted_proxy_no_one_is_believed(rt, echo_city):
    assert await _seen(rt, echo_city, (), "127.0.0.1") == {"client": "127.0.0.1", "scheme": "http"}


def test_the_environment_names_the_proxies():
    from guahao.tenants.settings import Settings

    assert Settings.from_env({}).trusted_proxies == ("127.0.0.1",)
    assert Settings.from_env({"GUAHAO_TRUSTED_PROXIES": "10.0.0.9, 10.1.0.0/16"}).trusted_proxies == (
        "10.0.0.9", "10.1.0.0/16")
    assert Settings.from_env({"GUAHAO_TRUSTED_PROXIES": ""}).trusted_proxies == ()
