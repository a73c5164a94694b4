"""The hospital's intermediate database: one engine per URL, its tables' names, and errors as
the outbox understands them (:class:`HisUnavailable` is retried).

Connections are not pooled (``NullPool``): pushes and pulls are few, each opens its own, and
no connection outlives the event loop that made it (the CLI runs one loop per command).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Mapping

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


class HisUnavailable(RuntimeError):
    """The intermediate database cannot be reached or answered with an error: tried again later."""


@dataclass(frozen=True)
class Tables:
    """The agreed tables' names under a hospital's prefix (``docs/his-midtable.sql``)."""

    prefix: str = "mt_"

    @property
    def schedule(self) -> str:
        return f"{self.prefix}schedule"

    @property
    def visit(self) -> str:
        return f"{self.prefix}visit"

    @property
    def fee_item(self) -> str:
        return f"{self.prefix}fee_item"

    @property
    def request(self) -> str:
        return f"{self.prefix}request"

    def all(self) -> tuple[str, ...]:
        return (self.schedule, self.visit, self.fee_item, self.request)


_engines: dict[tuple, AsyncEngine] = {}


def where(url: str) -> str:
    """The database a URL names, for messages: ``host:port/database`` (never the password)."""
    try:
        u = make_url(url)
    except ArgumentError:
        return "?"
    return f"{u.host or 'localhost'}{':' + str(u.port) if u.port else ''}/{u.database or ''}"


def _url(settings: Mapping, secrets: Mapping) -> URL:
    text = str(settings.get("url") or "").strip()
    if not text:
        raise HisUnavailable("no intermediate database set for this hospital: "
                             "guahao his set CITY HOSPITAL midtable --set url=mysql+aiomysql://USER@HOST:3306/DB")
    try:
        u = make_url(text)
    except ArgumentError:
        raise HisUnavailable(f"the intermediate database URL {text!r} is not a SQLAlchemy URL") from None
    password = str(secrets.get("password") or "")
    return u.set(password=password) if password else u


def engine(settings: Mapping, secrets: Mapping) -> AsyncEngine:
    """The engine of the hospital's database (made once per URL, password and timeout)."""
    u = _url(settings, secrets)
    timeout = float(settings.get("timeout") or 5)
    key = (u.render_as_string(hide_password=False), timeout)
    found = _engines.get(key)
    if found is None:
        args: dict = {}
        if u.get_backend_name() in ("mysql", "mariadb"):
            args = {"connect_timeout": max(1, int(round(timeout))), "charset": "utf8mb4"}
        try:
            found = create_async_engine(u, poolclass=NullPool, connect_args=args)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise HisUnavailable(f"cannot use the intermediate database URL ({where(str(u))}): {exc}") from None
        _engines[key] = found
    return found


async def dispose_all() -> None:
    """Forget every engine (tests, and a process that ends)."""
    engines = list(_engines.values())
    _engines.clear()
    for e in engines:
        await e.dispose()


def explain(exc: BaseException) -> str:
    """A short reason for staff: the driver's code and text, without the statement or values."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        args = getattr(exc.orig, "args", ())
        text = " ".join(str(a) for a in args) if args else str(exc.orig)
        return f"{type(exc.orig).__name__}: {text}"[:300]
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timed out"
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


@asynccontextmanager
async def connect(settings: Mapping, secrets: Mapping, *, begin: bool = True) -> AsyncIterator[AsyncConnection]:
    """A connection to the hospital's database (in a transaction, committed at the end, when
    ``begin``); any database error becomes :class:`HisUnavailable` naming the database."""
    e = engine(settings, secrets)
    name = where(str(settings.get("url") or ""))
    timeout = float(settings.get("timeout") or 5)
    try:
        conn = await asyncio.wait_for(e.connect(), timeout)
    except (SQLAlchemyError, OSError, asyncio.TimeoutError) as exc:
        raise HisUnavailable(f"intermediate database {name} cannot be reached: {explain(exc)}") from None
    try:
        if begin:
            async with conn.begin():
                yield conn
        else:
            yield conn
    except (SQLAlchemyError, OSError) as exc:
        raise HisUnavailable(f"intermediate database {name} failed: {explain(exc)}") from None
    finally:
        await conn.close()
