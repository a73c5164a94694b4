"""An outbox job's log lines name its city, topic and outbox id; its run is timed and counted by
outcome; calls to outside systems are timed and their errors counted; Sentry events carry the
city and request id."""

import json
import logging

import pytest
from prometheus_client import REGISTRY

from guahao.core import metrics
from guahao.core.jobs import process_outbox_message
from guahao.core.logs import bound_contextvars, formatter
from guahao.core.observability import before_send
from guahao.tenants.context import use_city
from tests.core.plugins.probes import Probe, emit_row, enable


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.setFormatter(formatter("json"))
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def lines():
    handler = Lines()
    logger = logging.getLogger("guahao")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_failing_job_logs_its_city_topic_and_id_and_is_counted(rt, city, register_plugin, lines):
    register_plugin(Probe(topic="probe.work"), "observed_probe")
    city = await enable(rt, city, "observed_probe")
    outbox_id = await emit_row(rt, city, "probe.work", {"fail": "HIS down for 13912345678"})
    retries = _value("guahao_outbox_jobs_total", topic="probe.work", outcome="retry")
    timed = _value("guahao_outbox_job_duration_seconds_count", topic="probe.work")

    assert await process_outbox_message(rt, outbox_id) == "pending"

    [line] = [json.loads(x) for x in lines if f"outbox {outbox_id} " in x]
    assert line["level"] == "warning" and line["logger"] == "guahao.jobs"
    assert (line["city"], line["topic"], line["outbox_id"]) == (city.slug, "probe.work", outbox_id)
    assert "13912345678" not in json.dumps(line) and "[phone]" in line["message"]
    assert _value("guahao_outbox_jobs_total", topic="probe.work", outcome="retry") == retries + 1
    assert _value("guahao_outbox_job_duration_seconds_count", topic="probe.work") == timed + 1


def test_provider_calls_are_timed_and_errors_counted():
    labels = {"kind": "his", "adapter": "probe_his", "operation": "book"}
    with metrics.provider_call(**labels):
        pass
    with pytest.raises(ConnectionError), metrics.provider_call(**labels):
        raise ConnectionError("refused")
    assert _value("guahao_provider_call_duration_seconds_count", **labels) == 2
    assert _value("guahao_provider_call_errors_total", **labels) == 1


def test_sentry_events_carry_the_city_and_request_id(city):
    with use_city(city), bound_contextvars(request_id="req-7", route="/api/v1/{city}/bookings"):
        event = before_send({"message": "boom for 13912345678", "tags": {"route": "kept"}})
    assert event["tags"] == {"city": city.slug, "request_id": "req-7", "route": "kept"}
    assert "13912345678" not in event["message"]


def test_a_worker_serves_its_own_metrics_on_the_port_it_is_given():
    import socket

    import httpx

    from guahao.tenants.settings import Settings

    assert metrics.serve_worker_metrics(Settings.from_env({})) is None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert metrics.serve_worker_metrics(Settings.from_env({"GUAHAO_WORKER_METRICS_PORT": str(port)})) == port
    with metrics.provider_call("payment", "probe_pay", "refund"):
        pass
    r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert r.status_code == 200 and 'adapter="probe_pay"' in r.text
