"""The shared HTTP client against a real local HTTP server: timeouts, quick retries, the
permanent/temporary split, Retry-After, and secrets kept out of error text."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import Counter

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from guahao.core.plugins.http import HttpClient, TransportError, json_answer, retry_after, status_error
from tests.fakes.live import LiveServer


class FarEnd:
    """A small provider: ``hits`` counts requests per ``?run=`` id; ``/flaky`` fails its
    first ``?fail=`` requests with 503; ``/echo`` answers 401 with what it was sent."""

    def __init__(self) -> None:
        self.hits: Counter = Counter()
        self.app = Starlette(routes=[
            Route("/ok", self.ok, methods=["GET", "POST"]),
            Route("/slow", self.slow),
            Route("/flaky", self.flaky, methods=["GET", "POST"]),
            Route("/status/{code:int}", self.status, methods=["GET", "POST"]),
            Route("/echo", self.echo, methods=["GET", "POST"]),
            Route("/html", self.html),
        ])

    def _count(self, request: Request) -> int:
        run = request.query_params.get("run", "")
        self.hits[run] += 1
        return self.hits[run]

    async def ok(self, request: Request) -> Response:
        self._count(request)
        return JSONResponse({"answer": 42, "method": request.method, "body": (await request.body()).decode()})

    async def slow(self, request: Request) -> Response:
        self._count(request)
        await asyncio.sleep(1.0)
        return JSONResponse({"answer": "late"})

    async def flaky(self, request: Request) -> Response:
        n = self._count(request)
        if n <= int(request.query_params.get("fail", "0")):
            return PlainTextResponse("upstream busy", 503)
        return JSONResponse({"answer": n})

    async def status(self, request: Request) -> Response:
        self._count(request)
        code = request.path_params["code"]
        headers = {"Retry-After": request.query_params["after"]} if "after" in request.query_params else {}
        return JSONResponse({"code": f"E{code}", "message": "refused"}, code, headers=headers)

    async def echo(self, request: Request) -> Response:
        self._count(request)
        auth, body = request.headers.get("authorization", ""), (await request.body()).decode()
        text = f"bad credentials: {auth} query {request.url.query} body {body}"
        return PlainTextResponse(text, 401)

    async def html(self, request: Request) -> Response:
        return PlainTextResponse("<html>maintenance</html>", int(request.query_params.get("code", "200")))


@pytest.fixture(scope="module")
def far_end():
    fake = FarEnd()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


def run_id() -> str:
    return uuid.uuid4().hex


async def test_a_timeout_is_temporary(far_end):
    run = run_id()
    async with HttpClient("probe", timeout=0.2) as http:
        with pytest.raises(TransportError) as caught:
            await http.request("GET", f"{far_end.url}/slow", params={"run": run})
    error = caught.value
    assert not error.permanent and error.code == "timeout" and error.status is None
    assert str(error).startswith("probe: no answer within 0.2 s (GET 127.0.0.1/slow)")
    assert "run=" not in str(error)  # the query string is never quoted


async def test_a_503_then_200_succeeds_with_retries_and_counts_attempts(far_end):
    run = run_id()
    async with HttpClient("probe", retries=2, backoff=0.01) as http:
        response = await http.request("GET", f"{far_end.url}/flaky", params={"run": run, "fail": 1})
    assert response.json() == {"answer": 2} and far_end.hits[run] == 2

    run = run_id()
    async with HttpClient("probe", retries=2, backoff=0.01) as http:
        with pytest.raises(TransportError) as caught:
            await http.request("GET", f"{far_end.url}/flaky", params={"run": run, "fail": 5})
    assert caught.value.attempts == 3 and far_end.hits[run] == 3
    assert not caught.value.permanent and caught.value.status == 503 and "upstream busy" in str(caught.value)


async def test_retries_are_off_by_default_and_for_calls_that_are_not_idempotent(far_end):
    run = run_id()
    async with HttpClient("probe") as http:
        with pytest.raises(TransportError):
            await http.request("GET", f"{far_end.url}/flaky", params={"run": run, "fail": 1})
    assert far_end.hits[run] == 1

    run = run_id()
    async with HttpClient("probe", retries=3, backoff=0.01) as http:
        with pytest.raises(TransportError) as caught:
            await http.request("POST", f"{far_end.url}/flaky", params={"run": run, "fail": 1}, json={"pay": 1})
        assert caught.value.attempts == 1 and far_end.hits[run] == 1
        # a POST the far end dedupes (a request id) may be marked idempotent and is retried
        response = await http.request("POST", f"{far_end.url}/flaky", params={"run": run, "fail": 1}, json={"pay": 1},
                                      idempotent=True)
    assert response.json() == {"answer": 2}


async def test_a_400_is_permanent_and_not_retried(far_end):
    run = run_id()
    async with HttpClient("probe", retries=3, backoff=0.01) as http:
        with pytest.raises(TransportError) as caught:
            await http.request("GET", f"{far_end.url}/status/400", params={"run": run})
    error = caught.value
    assert error.permanent and error.code == "http_400" and error.status == 400 and error.retry_after is None
    assert far_end.hits[run] == 1 and "E400" in str(error)


async def test_a_429_is_temporary_with_its_retry_after(far_end):
    run = run_id()
    async with HttpClient("probe", retries=3, backoff=0.01, max_wait=2.0) as http:
        with pytest.raises(TransportError) as caught:
            await http.request("GET", f"{far_end.url}/status/429", params={"run": run, "after": 30})
    error = caught.value
    assert not error.permanent and error.status == 429 and error.retry_after == 30.0
    assert far_end.hits[run] == 1  # longer than max_wait: left to the outbox, not waited for here

    run = run_id()
    async with HttpClient("probe", retries=1, backoff=0.01) as http:
        with pytest.raises(TransportError) as caught:
            await http.request("GET", f"{far_end.url}/status/429", params={"run": run, "after": 0})
    assert far_end.hits[run] == 2 and caught.value.attempts == 2


async def test_secrets_never_appear_in_error_text(far_end):
    token = "Bearer sk_live_" + uuid.uuid4().hex
    app_secret = uuid.uuid4().hex
    body_key = uuid.uuid4().hex
    async with HttpClient("probe", headers={"Authorization": token}) as http:
        with pytest.raises(TransportError) as caught:
            await http.request("POST", f"{far_end.url}/echo", params={"appid": "wx1", "secret": app_secret},
                               data={"sign": body_key, "amount": "100"})
    text = str(caught.value)
    assert "bad credentials" in text and "appid=wx1" in text and "amount=100" in text  # the echo is quoted
    assert token not in text and token.split()[1] not in text and app_secret not in text and body_key not in text
    assert "***" in text and caught.value.permanent


async def test_a_refused_connection_is_temporary():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with HttpClient("probe", retries=1, backoff=0.01) as http:
        with pytest.raises(TransportError) as caught:
            await http.request("GET", f"http://127.0.0.1:{port}/x")
    assert not caught.value.permanent and caught.value.code == "connection" and caught.value.attempts == 2


async def test_classify_reads_provider_answers_and_its_own_faults_are_temporary(far_end):
    def classify(response: httpx.Response) -> dict:
        body = json_answer(response)
        if body.get("code"):
            raise TransportError(f"{body['code']}: {body['message']}", permanent=True, code=body["code"])
        return body

    async with HttpClient("probe") as http:
        assert (await http.request("POST", f"{far_end.url}/ok", json={"a": 1}, classify=classify))["answer"] == 42
        with pytest.raises(TransportError) as refused:
            await http.request("GET", f"{far_end.url}/status/404", classify=classify)
        assert refused.value.code == "E404" and refused.value.permanent and str(refused.value) == "probe: E404: refused"
        with pytest.raises(TransportError) as not_json:
            await http.request("GET", f"{far_end.url}/html", classify=classify)
        assert not_json.value.code == "bad_response" and not not_json.value.permanent
        with pytest.raises(TransportError) as proxy_page:
            await http.request("GET", f"{far_end.url}/html", params={"code": 403}, classify=classify)
        assert proxy_page.value.permanent and proxy_page.value.status == 403
        with pytest.raises(TransportError) as broken:
            await http.request("GET", f"{far_end.url}/ok", classify=lambda r: r.json()["missing"])
        assert broken.value.code == "bad_response" and not broken.value.permanent and "KeyError" in str(broken.value)


async def test_form_and_raw_bodies_go_out_as_given(far_end):
    async with HttpClient("probe") as http:
        form = await http.request("POST", f"{far_end.url}/ok", data={"a": "1", "b": "二"})
        xml = await http.request("POST", f"{far_end.url}/ok", content="<xml><a>1</a></xml>",
                                 headers={"Content-Type": "text/xml"})
    assert form.json()["body"] == "a=1&b=%E4%BA%8C" and xml.json()["body"] == "<xml><a>1</a></xml>"


async def test_the_transport_can_be_replaced_and_the_timeout_comes_from_settings():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(500 if len(seen) == 1 else 200, json={"n": len(seen)})

    http = HttpClient.from_settings("probe", {"timeout": 3}, transport=httpx.MockTransport(handler), retries=1, backoff=0)
    assert http.timeout == 3.0
    assert HttpClient.from_settings("probe", {}).timeout == 10.0
    assert HttpClient.from_settings("probe", {"timeout": "soon"}, default_timeout=5).timeout == 5.0
    async with http:
        assert (await http.request("GET", "http://provider.invalid/x")).json() == {"n": 2}
    assert len(seen) == 2 and seen[0].extensions["timeout"]["read"] == 3.0


def test_the_usual_meaning_of_statuses_and_retry_after_dates():
    def response(code: int, **headers: str) -> httpx.Response:
        return httpx.Response(code, headers=headers, request=httpx.Request("GET", "http://x/"))

    assert status_error(response(204)) is None
    assert not status_error(response(502)).permanent and status_error(response(404)).permanent
    assert status_error(response(302)).permanent
    assert retry_after(response(429, **{"Retry-After": "120"})) == 120.0
    assert 0 < retry_after(response(429, **{"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}))
    assert retry_after(response(429, **{"Retry-After": "soon"})) is None
    assert retry_after(response(503)) is None
    with pytest.raises(ValueError):
        HttpClient("probe", retries=50)
