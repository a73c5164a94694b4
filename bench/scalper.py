"""A scalper's script, to see the anti-scalper limits hold: N accounts registered through the
public API from one address (or, with ``--spread``, each from its own address), as fast as
they go. Prints attempted / allowed / refused and the first refusal.

    python -m bench.scalper                       # the app in-process, on a throw-away SQLite city
    python -m bench.scalper --spread              # the same accounts from 40 addresses: all pass
    python -m bench.scalper --url http://127.0.0.1:8000 --city demo   # a running server

Against a running server the accounts come from this machine's own address (the server believes
``X-Forwarded-For`` only from its trusted proxies); ``--forwarded-for`` sets one anyway.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections import Counter
from datetime import date, timedelta

import httpx

from guahao.core.members.ids import check_digit


def identities(count: int):
    """Valid, distinct real-name identities (ID numbers pass GB 11643, phones are distinct)."""
    seed = int(uuid.uuid4().int % 10**6)
    for i in range(count):
        n = seed + i
        born = date(1970, 1, 1) + timedelta(days=n % 15000)
        first17 = f"110105{born:%Y%m%d}{(n // 15000) % 1000:03d}"
        yield {"name": "王五", "id_number": first17 + check_digit(first17), "phone": f"135{n % 10**8:08d}",
               "password": "secret123"}


async def attack(client: httpx.AsyncClient, city: str, count: int, *, spread: bool, forwarded_for: str | None):
    codes: Counter[int] = Counter()
    first_refusal = None
    started = time.perf_counter()
    for i, ident in enumerate(identities(count)):
        headers = {}
        if spread:
            headers["X-Forwarded-For"] = f"198.51.100.{i % 250 + 1}"
        elif forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        r = await client.post(f"/api/v1/{city}/members", json=ident, headers=headers)
        codes[r.status_code] += 1
        if r.status_code == 429 and first_refusal is None:
            first_refusal = (i + 1, r.headers.get("Retry-After"), r.json()["error"])
    seconds = time.perf_counter() - started
    allowed = codes[201]
    refused = codes[429]
    print(f"attempted {count}  allowed {allowed}  refused {refused}  other {count - allowed - refused} "
          f"in {seconds:.1f} s  (statuses {dict(codes)})")
    if first_refusal:
        n, retry, error = first_refusal
        print(f"first refused: attempt {n}, Retry-After {retry} s, code {error['code']}, "
              f"scope {error['details']['scope']}: {error['message']}")


async def in_process(count: int, spread: bool, forwarded_for: str | None) -> None:
    """The app on a throw-away SQLite database with one city, over HTTP through its ASGI interface."""
    from argon2 import PasswordHasher

    from guahao.core.app import create_app
    from guahao.core.members import passwords
    from guahao.core.migrate import upgrade_async
    from guahao.core.runtime import Runtime
    from guahao.tenants.service import create_city
    from guahao.tenants.settings import Settings

    passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))  # the limit is the subject
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{folder}/scalper.sqlite3")
        await upgrade_async(settings)
        rt = Runtime(settings)
        await rt.start()
        await create_city(rt.db, slug="bench", name="压测市")
        app = create_app(settings, runtime=rt)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await attack(client, "bench", count, spread=spread,
                         forwarded_for=forwarded_for or ("203.0.113.66" if not spread else None))
        await rt.stop()


async def against(url: str, city: str, count: int, spread: bool, forwarded_for: str | None) -> None:
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=30) as client:
        await attack(client, city, count, spread=spread, forwarded_for=forwarded_for)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=40)
    parser.add_argument("--spread", action="store_true", help="each account from its own address")
    parser.add_argument("--url", help="a running server (default: the app in-process)")
    parser.add_argument("--city", default="demo", help="the city's slug on --url")
    parser.add_argument("--forwarded-for", help="the X-Forwarded-For to send")
    args = parser.parse_args()
    if args.url:
        asyncio.run(against(args.url, args.city, args.accounts, args.spread, args.forwarded_for))
    else:
        asyncio.run(in_process(args.accounts, args.spread, args.forwarded_for))


if __name__ == "__main__":
    main()
