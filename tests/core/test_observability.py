"""Every response says how long the application took (Server-Timing); what goes to Sentry
carries no secrets or personal data."""

import gzip
import http.server
import logging
import re
import threading
import zlib
from typing import ClassVar

import httpx
import pytest

from guahao.core.observability import init_sentry, scrub, scrub_text
from guahao.tenants.settings import Settings


async def test_server_timing_header_on_every_response(client, city):
    for path in ("/healthz", f"/api/v1/{city.slug}/hospitals", "/api/v1/nowhere/hospitals"):
        r = await client.get(path)
        assert re.fullmatch(r"app;dur=\d+\.\d", r.headers["server-timing"]), path


# --- Sentry: what leaves the process ---------------------------------------------------------

PASSWORD = "hunter2-Zq9-secret"
PHONE = "13912345678"
ID_NUMBER = "11010519491231002X"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI3In0.c2lnbmF0dXJl"
COOKIE = "guahao_session=cookie-value-7f3a9"
API_KEY = "api-key-55aa"
SPACED, HYPHENED = "139 1234 5678", "139-1234-5678"
# Source lines around a raising frame are sent too: the values are named, never spelled out there.
SECRETS = [PASSWORD, PHONE, SPACED, HYPHENED, ID_NUMBER, ID_NUMBER.lower(), BEARER, "cookie-value-7f3a9", API_KEY]


class _Capture(http.server.BaseHTTPRequestHandler):
    """A stand-in Sentry: keeps every envelope it is sent (decompressed)."""

    bodies: ClassVar[list[bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        type(self).bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_server():
    _Capture.bodies = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, _Capture.bodies
    import sentry_sdk

    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.init(dsn=None)  # back to a client that sends nothing
    server.shutdown()
    server.server_close()


def _check_password(login: str, password: str) -> None:
    attempts = {"login": login, "password": password}  # a frame local holding secrets
    raise RuntimeError(f"login failed for {login} with password={password} ({len(attempts)})")


async def test_sentry_receives_no_secrets_or_personal_data(sentry_server):
    import sentry_sdk
    from starlette.applications import Starlette
    from starlette.routing import Route

    server, bodies = sentry_server
    init_sentry(Settings(sentry_dsn=f"http://publickey@127.0.0.1:{server.server_address[1]}/1"))

    log = logging.getLogger("guahao.test.sentry")
    log.warning("member %s tried id %s with password=%s", PHONE, ID_NUMBER, PASSWORD)  # a breadcrumb
    try:
        _check_password(PHONE, PASSWORD)
    except RuntimeError:
        sentry_sdk.capture_exception()
    log.error("login of %s failed", SPACED, extra={"id_number": ID_NUMBER, "api_key": API_KEY})

    async def boom(request):
        form = await request.form()
        raise ValueError(f"cannot log in {form['login']} (ID {form['id_number']})")

    app = Starlette(routes=[Route("/c/x/login", boom, methods=["POST"])])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                 base_url="http://testserver") as client:
        await client.post(
            f"/c/x/login?phone={PHONE}&token={BEARER}",
            data={"login": HYPHENED, "password": PASSWORD, "id_number": ID_NUMBER.lower()},
            headers={"Authorization": f"Bearer {BEARER}", "Cookie": COOKIE, "X-Api-Key": API_KEY},
        )
    sentry_sdk.flush(timeout=5)

    received = b"\n".join(bodies).decode("utf-8", "replace")
    assert received.count('"type":"event"') >= 3, received[:500]  # the events did arrive
    assert "RuntimeError" in received and "ValueError" in received and "/c/x/login" in received
    leaked = [s for s in SECRETS if s in received]
    assert leaked == [], leaked
    assert '"vars"' not in received  # no frame locals at all
    assert "[phone]" in received and "[id-number]" in received and "[Filtered]" in received


def test_scrub_masks_keys_pairs_and_numbers():
    event = {
        "request": {"headers": [["Authorization", "Bearer x"], ["Accept", "text/html"]],
                    "query_string": f"a=1&password={PASSWORD}&m={PHONE}", "data": {"newPassword": PASSWORD}},
        "extra": {"idNumber": ID_NUMBER, "hospital_code": "H001", "code": "123456"},
        "exception": {"values": [{"value": f"+86 139 1234 5678 / {ID_NUMBER}"}]},
    }
    clean = scrub(event)
    assert clean["request"]["headers"] == [["Authorization", "[Filtered]"], ["Accept", "text/html"]]
    assert clean["request"]["query_string"] == "a=1&password=[Filtered]&m=[phone]"
    assert clean["request"]["data"] == {"newPassword": "[Filtered]"}
    assert clean["extra"] == {"idNumber": "[Filtered]", "hospital_code": "H001", "code": "[Filtered]"}
    assert clean["exception"]["values"][0]["value"] == "[phone] / [id-number]"
    assert scrub_text("ordinary text, booking B2025 at 08:30") == "ordinary text, booking B2025 at 08:30"
