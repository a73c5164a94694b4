"""`guahao serve --workers 2` as operators run it: /metrics adds up what every worker process
counted, whichever worker answers the scrape (PROMETHEUS_MULTIPROC_DIR); every log line is one
JSON object, lines of a request carry its request id, and a storm of registrations, log-ins
and bookings (failures included) leaves no phone number, ID number or name in any line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from guahao.core.migrate import upgrade
from guahao.core.runtime import Runtime
from guahao.tenants.settings import Settings
from tests.api.conftest import id_number
from tests.factories import make_catalogue, make_city

REQUESTS = 24
ROUTE = "/api/v1/{city}/hospitals"
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


@dataclass
class Served:
    base: str
    multiproc: Path
    log: Path
    city: str
    period_id: int

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8").splitlines()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _seed(settings: Settings) -> tuple[str, int]:
    rt = Runtime(settings)
    try:
        city = await make_city(rt, "wk", cancel_days_before=0)
        cat = await make_catalogue(rt, city)
        return city.slug, cat.periods[cat.sessions[0].id][0].id
    finally:
        await rt.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("served")
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/workers.sqlite3")
    upgrade(settings)
    slug, period_id = asyncio.run(_seed(settings))
    multiproc = tmp / "prom"
    multiproc.mkdir()
    (multiproc / "counter_999999.db").write_bytes(b"left over from an earlier run")
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": settings.database_url, "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
           "REDIS_URL": "", "GUAHAO_LOG_FORMAT": "json"}
    log = tmp / "server.log"
    guahao = Path(sys.executable).with_name("guahao")
    with open(log, "wb") as err:
        server = subprocess.Popen([str(guahao), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield Served(base, multiproc, log, slug, period_id)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _count(text: str, **labels) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "guahao_http_requests_total" and all(s.labels.get(k) == v for k, v in labels.items()))


def test_metrics_add_up_across_two_workers(served):
    labels = {"method": "GET", "route": ROUTE, "status": "404"}
    before = _count(httpx.get(served.base + "/metrics", timeout=5).text, **labels)
    for _ in range(REQUESTS):  # a new connection each: the workers share the listening socket
        assert httpx.get(served.base + "/api/v1/no-such-city/hospitals", timeout=5).status_code == 404
    scrapes = [httpx.get(served.base + "/metrics", timeout=5) for _ in range(6)]
    assert all(r.status_code == 200 for r in scrapes)
    counts = {_count(r.text, **labels) - before for r in scrapes}
    assert counts == {REQUESTS}, counts  # every scrape, from either worker, sees all of them
    pids = {p.stem.rsplit("_", 1)[-1] for p in served.multiproc.glob("*.db")}
    assert "999999" not in pids and len(pids) >= 2  # old values cleared; both workers write there


def _storm(served: Served) -> set[str]:
    """Registrations, log-ins and bookings with phones and ID numbers, failures included;
    returns the personal values sent."""
    api = f"{served.base}/api/v1/{served.city}"
    sent: set[str] = set()
    with httpx.Client(timeout=10) as c:
        for n in range(4):
            ident = {"name": "张伟", "id_number": id_number(900 + n), "phone": f"1391234{n:04d}", "password": "secret123"}
            sent |= {ident["id_number"], ident["phone"]}
            replies = [
                c.post(api + "/members", json=ident),
                c.post(api + "/members", json=ident),  # already registered
                c.post(api + "/members", json={**ident, "id_number": ident["id_number"][:17] + "0"}),  # bad check digit
                c.post(api + "/members", json={**ident, "phone": ident["phone"][:10]}),  # too short
                c.post(api + "/auth/token", json={"login": ident["phone"], "password": "wrong-password-1"}),
                c.get(api + f"/hospitals?phone={ident['phone']}&id_number={ident['id_number']}"),
            ]
            token = c.post(api + "/auth/token", json={"login": ident["phone"], "password": "secret123"})
            replies.append(token)
            if token.status_code == 200:
                auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
                booking = {"period_id": served.period_id, "channel": "app"}
                replies += [c.post(api + "/bookings", json=booking, headers=auth) for _ in range(2)]
            assert all(r.status_code < 500 for r in replies), [r.status_code for r in replies]
            assert {r.status_code for r in replies} & {400, 401, 409, 422}
    return sent


def test_no_phone_or_id_number_in_any_log_line_during_a_storm(served):
    begin = len(served.lines())
    httpx.get(served.base + "/healthz", headers={"X-Request-ID": "storm-begin"})
    sent = _storm(served)
    httpx.get(served.base + "/healthz", headers={"X-Request-ID": "storm-end"})
    time.sleep(0.3)  # the access line of the last request
    lines = served.lines()[begin:]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    ids = [r.get("request_id") for r in records]
    assert "storm-begin" in ids and "storm-end" in ids
    storm = records[ids.index("storm-begin"):ids.index("storm-end") + 1]
    assert len(storm) > 30
    for record in storm:
        assert record["request_id"] and record["time"] and record["level"] and record["logger"] and record["message"]
    for line in lines:
        assert not PHONE.search(line) and not ID_NUMBER.search(line), line
        assert not any(value in line for value in sent) and "张伟" not in line, line
    assert any(r.get("member_id") for r in storm)  # lines of a signed-in request name the member by id
    assert any("phone=[Filtered]" in r["message"] for r in storm)  # the query string's phone masked, the line kept
