"""Prometheus metrics: the metric objects, the small calls that record them, and the scrape text.

Names start with ``guahao_``; labels stay low-cardinality (a route template, never a raw path;
a city slug, a channel, a result code, an outbox topic, an adapter name).

Several uvicorn workers (``guahao serve --workers N``) each count for themselves; with
``PROMETHEUS_MULTIPROC_DIR`` set (``guahao serve`` sets a fresh one per run when it is unset)
every process writes its values into files there and :func:`exposition` adds them up with
``MultiProcessCollector``, whichever worker answers the scrape. The variable must be set before
this module is first imported; without it the process's default registry is served. A
``guahao worker`` runs apart from the web processes and serves its own job metrics on
``GUAHAO_WORKER_METRICS_PORT`` (:func:`serve_worker_metrics`); it must not share the web's
folder, which ``guahao serve`` clears when it starts.

Scrape-time gauges (outbox depth and oldest open delivery per city) are read from the database
by the process that answers, at most every :data:`OUTBOX_CACHE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
OUTBOX_CACHE_SECONDS = 5.0
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 120.0)

HTTP_REQUESTS = Counter("guahao_http_requests_total", "HTTP requests answered, by method, route template and status.",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("guahao_http_request_duration_seconds", "Time to answer an HTTP request, by route template.",
                         ["method", "route"], buckets=LATENCY_BUCKETS)
BOOKINGS = Counter("guahao_bookings_total",
                   "Booking attempts by city, channel and result (booked, replayed or the refusal's code).",
                   ["city", "channel", "result"])
GATE_REFUSALS = Counter("guahao_gate_refusals_total", "Booking requests the sold-out gate turned away before the database.",
                        ["city"])
JOB_SECONDS = Histogram("guahao_outbox_job_duration_seconds", "Time one outbox job ran, by topic.", ["topic"],
                        buckets=JOB_BUCKETS)
JOBS = Counter("guahao_outbox_jobs_total", "Outbox jobs run, by topic and outcome (done, retry, failed).",
               ["topic", "outcome"])
PROVIDER_SECONDS = Histogram("guahao_provider_call_duration_seconds",
                             "Calls to a HIS, payment provider or message sender, by kind, adapter and operation.",
                             ["kind", "adapter", "operation"], buckets=LATENCY_BUCKETS)
PROVIDER_ERRORS = Counter("guahao_provider_call_errors_total", "Calls to a HIS, payment provider or sender that raised.",
                          ["kind", "adapter", "operation"])
DB_POOL_IN_USE = Gauge("guahao_db_pool_checked_out", "Database connections checked out of the pool now.", ["pool"],
                       multiprocess_mode="livesum")


def record_booking(city: str, channel: str, result: str) -> None:
    BOOKINGS.labels(city, channel or "unknown", result).inc()


def record_gate_refusal(city: str) -> None:
    GATE_REFUSALS.labels(city).inc()


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_SECONDS.labels(method, route).observe(seconds)


def record_job(topic: str, outcome: str, seconds: float) -> None:
    JOBS.labels(topic, outcome).inc()
    JOB_SECONDS.labels(topic).observe(seconds)


@contextlib.contextmanager
def provider_call(kind: str, adapter: str, operation: str) -> Iterator[None]:
    """Time a call to an outside system (``kind``: ``his``, ``payment``, ``sender``); count it
    as an error when it raises."""
    start = time.perf_counter()
    try:
        yield
    except BaseException:
        PROVIDER_ERRORS.labels(kind, adapter, operation).inc()
        raise
    finally:
        PROVIDER_SECONDS.labels(kind, adapter, operation).observe(time.perf_counter() - start)


def watch_pool(engine, name: str) -> None:
    """Keep :data:`DB_POOL_IN_USE` for ``engine``'s pool (an ``AsyncEngine``) by its checkout events."""
    from sqlalchemy import event

    gauge = DB_POOL_IN_USE.labels(name)
    event.listen(engine.sync_engine, "checkout", lambda *_: gauge.inc())
    event.listen(engine.sync_engine, "checkin", lambda *_: gauge.dec())


# --- outbox depth and age, read at scrape time ---------------------------------------------


@dataclass(eq=False)
class OutboxStats:
    """Open (pending or queued) outbox rows per city slug: count, of them failing, oldest age."""

    read_at: float = 0.0
    open: dict[str, int] = field(default_factory=dict)
    failing: dict[str, int] = field(default_factory=dict)
    oldest_seconds: dict[str, float] = field(default_factory=dict)

    def collect(self):
        depth = GaugeMetricFamily("guahao_outbox_open", "Outbox deliveries waiting (pending or queued), per city.",
                                  labels=["city"])
        failing = GaugeMetricFamily("guahao_outbox_failing", "Open outbox deliveries that failed at least once, per city.",
                                    labels=["city"])
        age = GaugeMetricFamily("guahao_outbox_oldest_pending_age_seconds",
                                "Age of the city's oldest delivery still waiting (0 when none waits).", labels=["city"])
        for city in sorted(self.open):
            depth.add_metric([city], self.open[city])
            failing.add_metric([city], self.failing.get(city, 0))
            age.add_metric([city], self.oldest_seconds.get(city, 0.0))
        return [depth, failing, age]


async def read_outbox_stats(db) -> OutboxStats:
    """One grouped query per database cell over every city's open outbox rows (platform scope)."""
    from sqlalchemy import case, func, select

    from guahao.core.models import City, OutboxMessage
    from guahao.tenants.clock import utcnow
    from guahao.tenants.context import platform_scope, use_cell

    stats = OutboxStats(read_at=time.monotonic())
    failing = func.sum(case((OutboxMessage.attempts > 0, 1), else_=0))
    rows: list = []
    with platform_scope("metrics: outbox depth and age per city"):
        async with db.transaction() as s:
            slugs = dict((await s.execute(select(City.id, City.slug))).all())
        for cell in db.cell_names:
            with use_cell(cell):
                async with db.transaction() as s:
                    rows += (await s.execute(
                        select(OutboxMessage.city_id, func.count(), failing, func.min(OutboxMessage.created_at))
                        .where(OutboxMessage.status.in_(("pending", "queued"))).group_by(OutboxMessage.city_id)
                    )).all()
    now = utcnow()
    for slug in slugs.values():
        stats.open[slug], stats.failing[slug], stats.oldest_seconds[slug] = 0, 0, 0.0
    for city_id, count, fails, oldest in rows:
        slug = slugs.get(city_id, str(city_id))
        stats.open[slug], stats.failing[slug] = int(count), int(fails or 0)
        if oldest is not None:
            if oldest.tzinfo is None and now.tzinfo is not None:
                oldest = oldest.replace(tzinfo=now.tzinfo)
            stats.oldest_seconds[slug] = max(0.0, (now - oldest).total_seconds())
    return stats


class OutboxGauges:
    """The outbox stats of one process, read again when older than ``max_age`` seconds."""

    def __init__(self, max_age: float = OUTBOX_CACHE_SECONDS):
        self.max_age = max_age
        self.stats = OutboxStats()

    async def refresh(self, db) -> OutboxStats:
        if not self.stats.read_at or time.monotonic() - self.stats.read_at > self.max_age:
            self.stats = await read_outbox_stats(db)
        return self.stats


def exposition(extra=None, *, shared_dir: str = "") -> bytes:
    """The scrape text: every process's values (from ``shared_dir``, the settings'
    ``metrics_dir``, in multiprocess mode) or this process's, followed by ``extra`` (a collector
    such as :class:`OutboxStats`)."""
    if shared_dir:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    if extra is not None:
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(extra)
        text += generate_latest(scrape)
    return text


def serve_worker_metrics(settings) -> int | None:
    """Serve this process's metrics (job durations and outcomes, outside calls) on the
    settings' ``worker_metrics_port`` at ``worker_metrics_addr``, from a thread; the port, or
    ``None`` when none is set."""
    port = settings.worker_metrics_port
    if not port:
        return None
    from prometheus_client import start_http_server

    start_http_server(int(port), addr=settings.worker_metrics_addr)
    return int(port)


def prepare_multiprocess_dir(path: str) -> None:
    """Create ``path`` and remove the value files a previous run left there."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(path, name))
