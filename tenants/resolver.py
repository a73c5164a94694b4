"""Request → city: by path prefix (``/c/{city}/…``, ``/api/v1/{city}/…``) or by host name.

Cities are read through a short-lived cache: the booking rush must not hit the database for
the city row on every request, and a configuration change is seen within seconds
(immediately in this process, since changes bump ``config_version`` and clear the cache).
A miss is loaded once however many requests wait for it (thousands arrive in the same
second at slot release), and an expired entry is refreshed by one request while the others
keep using it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col

from .cache import TtlCache
from .context import CityContext
from .models import City, CityHost
from .rules import CityRules

TTL_SECONDS = 5.0


def city_context(city: City) -> CityContext:
    return CityContext(
        id=int(city.id or 0),
        slug=city.slug,
        name=city.name,
        timezone=city.timezone,
        rules=CityRules.model_validate(city.rules or {}),
        config_version=city.config_version,
        branding=dict(city.branding or {}),
        cell=city.cell or "",
    )


class CityResolver:
    """Looks cities up by slug or host through the database, with a small TTL cache."""

    def __init__(self, db, ttl: float = TTL_SECONDS):
        self.db = db
        self._cache: TtlCache = TtlCache(ttl, serve_stale=True)

    def invalidate(self, slug: str | None = None) -> None:
        self._cache.invalidate(None if slug is None else ("slug", slug))

    async def by_slug(self, slug: str) -> CityContext | None:
        return await self._cache.get(("slug", slug), lambda: self._load_slug(slug))

    async def by_host(self, host: str) -> CityContext | None:
        host = host.split(":", 1)[0].lower()
        slug = await self._cache.get(("host", host), lambda: self._load_host(host))
        return await self.by_slug(slug) if slug else None

    async def _load_slug(self, slug: str) -> CityContext | None:
        async with self.db.transaction() as s:
            city = await s.scalar(select(City).where(col(City.slug) == slug, col(City.active).is_(True)))
        if city is None:
            return None
        await self.db.ensure_cell(city.cell or "")  # a city on a cell this process has not met yet
        return city_context(city)

    async def _load_host(self, host: str) -> str | None:
        async with self.db.transaction() as s:
            return await s.scalar(
                select(col(City.slug)).join(CityHost, col(CityHost.city_id) == col(City.id)).where(col(CityHost.host) == host)
            )
