"""Each city's installed licences, verified and kept in process, so the booking path asks no
database.

A city's licences are read and their signatures verified when first needed after the process
starts (the first booking or console page), again when :data:`REFRESH_SECONDS` have passed
(so a licence installed or revoked by another process counts within that time, and every
licence is verified again at least that often — well within a day), and at once after an
install or revocation in this process (:func:`forget`). Between loads a booking costs a
dictionary look-up and a date comparison.

Loads read through a connection of their own, outside any transaction of the caller: the
booking rules run inside the booking's transaction (on SQLite that transaction holds the
database's write lock; on PostgreSQL the booking requests may hold every pooled connection),
and the load must not wait for it. Concurrent requests for a city share one load.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import col, select

from guahao.tenants.context import CityContext, use_city
from guahao.tenants.db import TenantSession

from .document import LicenceRefused
from .keys import trusted_keys
from .models import InstalledLicence
from .signing import VerifiedLicence, verify
from .states import LicenceState, counting, local_today, state_on

log = logging.getLogger("guahao.licensing")

REFRESH_SECONDS = 600.0
"""A city's licences are read and verified again after this many seconds."""


@dataclass(frozen=True)
class Installed:
    """A verified, unrevoked licence as installed."""

    licence: VerifiedLicence
    row_id: int
    installed_at: datetime
    installed_by: str

    @property
    def document(self):
        return self.licence.document


@dataclass(frozen=True)
class CityLicences:
    """What a city's installed licences allow: the verified, unrevoked ones (newest first), the
    stored ones that no longer verify (``problems``: licence id → why) and whether a licence is
    required."""

    installed: tuple[Installed, ...]
    problems: dict[str, str] = field(default_factory=dict)
    required: bool = False

    def counting(self, today: date) -> Installed | None:
        """The licence that counts on the local date ``today`` (:func:`.states.counting`)."""
        chosen = counting([i.document for i in self.installed], today)
        return next((i for i in self.installed if i.document is chosen), None)

    def state(self, now: datetime, city: CityContext) -> tuple[LicenceState, Installed | None]:
        today = local_today(now, city.tz)
        current = self.counting(today)
        return state_on(current.document if current else None, today, required=self.required), current


class _Cache:
    def __init__(self, rt):
        self.entries: dict[int, tuple[float, CityLicences]] = {}
        self.loading: dict[int, asyncio.Future] = {}
        self.generation = 0  # bumped by forget: a load begun before it is not kept
        self.reader: async_sessionmaker | None = None
        self.engine: AsyncEngine | None = None
        self.url = rt.db.url


_caches: weakref.WeakKeyDictionary[Any, _Cache] = weakref.WeakKeyDictionary()


def _cache(rt) -> _Cache:
    found = _caches.get(rt)
    if found is None or found.url != rt.db.url:
        found = _caches[rt] = _Cache(rt)
    return found


def _reader(rt, cache: _Cache) -> Callable[[], AsyncSession]:
    """Sessions on connections of their own (opened per load, closed after), with the tenant
    walls of every session (``TenantSession``). On SQLite no ``BEGIN IMMEDIATE``: a plain read
    in WAL mode waits for no writer."""
    if cache.reader is None:
        url = make_url(rt.db.url)
        if rt.db.dialect == "sqlite" and url.database in (None, "", ":memory:"):
            return rt.db.session  # an in-memory database has one connection: no other to read on
        args = {"timeout": 10} if rt.db.dialect == "sqlite" else {}
        cache.engine = create_async_engine(rt.db.url, poolclass=NullPool, connect_args=args)
        cache.reader = async_sessionmaker(cache.engine, class_=AsyncSession, sync_session_class=TenantSession,
                                          expire_on_commit=False)
    return cache.reader


async def _load(rt, city: CityContext, cache: _Cache) -> CityLicences:
    reader = rt.db.session if city.cell else _reader(rt, cache)  # a city on a cell: that cell's pool
    with use_city(city):
        async with reader() as s, s.begin():
            rows = (await s.scalars(
                select(InstalledLicence).where(col(InstalledLicence.revoked_at).is_(None))
                .order_by(col(InstalledLicence.id).desc())
            )).all()
    keys = trusted_keys(rt.settings)
    installed: list[Installed] = []
    problems: dict[str, str] = {}
    for row in rows:
        try:
            licence = verify(row.token, keys, city=city.slug)
        except LicenceRefused as exc:
            problems[row.licence_id] = exc.message_en
            log.error("city %s: installed licence %s is not used: %s", city.slug, row.licence_id, exc.message_en)
            continue
        installed.append(Installed(licence, row.id, row.installed_at, row.installed_by))
    return CityLicences(tuple(installed), problems, bool(rt.settings.licence_required))


async def city_licences(rt, city: CityContext) -> CityLicences:
    """The city's licences, from the process's cache (loaded and verified when missing or
    older than :data:`REFRESH_SECONDS`)."""
    cache = _cache(rt)
    hit = cache.entries.get(city.id)
    if hit is not None and time.monotonic() - hit[0] < REFRESH_SECONDS:
        return hit[1]
    pending = cache.loading.get(city.id)
    if pending is None:
        pending = asyncio.ensure_future(_fill(rt, city, cache))
        cache.loading[city.id] = pending
    return await asyncio.shield(pending)


async def _fill(rt, city: CityContext, cache: _Cache) -> CityLicences:
    generation = cache.generation
    started = time.monotonic()
    try:
        loaded = await _load(rt, city, cache)
        if generation == cache.generation:
            cache.entries[city.id] = (started, loaded)
        return loaded
    finally:
        if generation == cache.generation:
            cache.loading.pop(city.id, None)


def peek(rt, city: CityContext) -> CityLicences | None:
    """The cached licences of the city, however old, without loading (``None`` if never loaded)."""
    hit = _cache(rt).entries.get(city.id)
    return hit[1] if hit is not None else None


def forget(rt, city_id: int | None = None) -> None:
    """Drop the cached licences of a city (or of every city): the next use loads them again."""
    cache = _cache(rt)
    cache.generation += 1
    if city_id is None:
        cache.entries.clear()
        cache.loading.clear()
    else:
        cache.entries.pop(city_id, None)
        cache.loading.pop(city_id, None)
