"""Shared pieces of the benchmarks: a fresh PostgreSQL database, a real server process,
concurrent HTTP load and percentiles. Benchmarks print figures; they assert nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from guahao.tenants.rate_limits import DEFAULT_RATE_LIMITS, scope_of
from guahao.tenants.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
BENCH_KEY = "guahao-benchmark-key-for-throwaway-databases-only"


def bench_settings(dbname: str) -> Settings:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL server, e.g. postgresql://postgres@127.0.0.1:5432/guahao")
    url = make_url(base).set(database=dbname).render_as_string(hide_password=False)
    # A throwaway database: a fixed key of its own when the environment names none (a server
    # on PostgreSQL refuses the public development key).
    keys = {} if os.environ.get("GUAHAO_SECRET_KEY") else {"secret_key": BENCH_KEY}
    return Settings.from_env(database_url=url, redis_url=os.environ.get("REDIS_URL", ""), **keys)


async def recreate_database(settings: Settings) -> None:
    u = make_url(settings.database_url)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            u.database,
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}"')
        await conn.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        await conn.close()


def pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Every synthetic member connects from 127.0.0.1: the limits per client address (and device) are raised so
# that they do not refuse the load (the rules are still counted on every request, so their cost
# is measured); the limits per member stay as deployed.
LOAD_TEST_RATE_LIMITS = ",".join(f"{rule}=1000000/minute" for rule in DEFAULT_RATE_LIMITS
                                 if scope_of(rule) in ("ip", "device"))


@contextlib.contextmanager
def server(app: str, env: dict[str, str], *, factory: bool = True, workers: int = 1):
    """Run ``app`` under uvicorn in its own process; yield its base URL and pid."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log", "--workers", str(workers), "--backlog", "4096"]
    if factory:
        cmd.append("--factory")
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "GUAHAO_RATE_LIMITS": LOAD_TEST_RATE_LIMITS, **env})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"server {app} did not start")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (OSError, IndexError):
            continue
        pids += [int(c) for c in children]
    return total


def postgres_cpu_seconds() -> float:
    """CPU of every PostgreSQL process on this machine (the server is local here)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.endswith("(postgres"):
            f = tail.split()
            total += (int(f[11]) + int(f[12])) / tick
    return total


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(latencies: list[float]) -> str:
    return (f"p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms, "
            f"mean {statistics.fmean(latencies) * 1000:.1f} ms")


class RawConnection:
    """A minimal HTTP/1.1 keep-alive client connection for load generation.

    A general client (httpx) spends more CPU per request than the server under test once
    thousands of requests are in flight, and then measures itself; this one only writes
    the request and reads a ``Content-Length`` response.
    """

    def __init__(self, base: str):
        u = httpx.URL(base)
        self.host, self.port = u.host, u.port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> "RawConnection":
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def request(self, method: str, path: str, *, body: bytes = b"", headers: dict | None = None):
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        if body:
            head.append("Content-Type: application/json")
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        self.headers: dict[str, str] = {}
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
            if name.strip().lower() == "content-length":
                length = int(value)
            elif name.strip().lower() == "transfer-encoding":
                raise RuntimeError("chunked responses are not expected here")
        payload = await self.reader.readexactly(length) if length else b""
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()


async def fixed_load(base: str, path: str, *, total: int, concurrency: int, headers=None):
    """``total`` GETs over ``concurrency`` keep-alive connections; (seconds, latencies, statuses)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(range(total))
    conns = [await RawConnection(base).open() for _ in range(concurrency)]

    async def worker(conn: RawConnection):
        for _ in queue:
            t0 = time.perf_counter()
            status, _ = await conn.request("GET", path, headers=headers)
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    elapsed = time.perf_counter() - t0
    for c in conns:
        await c.close()
    return elapsed, latencies, statuses
