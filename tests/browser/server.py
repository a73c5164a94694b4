"""A real server for browser tests and screenshots: the demo city on its own SQLite file,
served by ``guahao serve`` (uvicorn) in a child process, the way `make demo` runs it."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx

from guahao.tenants.rate_limits import DEFAULT_RATE_LIMITS, scope_of

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GUAHAO_CHROMIUM", "/usr/bin/chromium")
# Flags for a headless Chromium on a machine without a display or outside network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
START_SECONDS = 120


def have_chromium() -> bool:
    return Path(CHROMIUM).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def demo_server(workdir: Path, prepare: Callable[[dict], None] | None = None) -> Iterator[str]:
    """Seed the demo city into ``workdir`` and serve it; yields the base URL.

    ``prepare(env)`` runs between seeding and serving with the server's environment (to
    configure a plugin or a hospital the way an operator would before opening)."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir}/browser.sqlite3",
        "REDIS_URL": "",
        "GUAHAO_AVAILABILITY_CACHE_SECONDS": "0",
        # Every test's browser comes from 127.0.0.1: the limits per address would count them
        # all as one visitor (those per browser, member and phone stay as deployed).
        "GUAHAO_RATE_LIMITS": ",".join(f"{rule}=100000/minute" for rule in DEFAULT_RATE_LIMITS
                                       if scope_of(rule) == "ip"),
    }
    subprocess.run([sys.executable, "-m", "guahao.core.cli", "demo", "--no-serve"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    if prepare is not None:
        prepare(env)
    port = _free_port()
    log = workdir / "server.log"
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(  # the way production serves: `guahao serve` (uvicorn, as configured there)
            [sys.executable, "-m", "guahao.core.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stderr=out, stdout=out,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: a loaded two-core machine can take many seconds to import and start.
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError(f"the demo server did not start:\n{log.read_text()[-4000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
