"""Request → city: by path prefix (``/c/{city}/…``, ``/api/v1/{city}/…``) or by host name.

Cities are read through a short-lived cache: the booking rush must not hit the database for
the city row on every request, and a configuration change is seen within seconds
(immediately in this process, since changes bump ``config_version`` and clear the cache).
"""

from __future__ import annotations

import time

from sqlalchemy import select

from .context import CityContext
from .models import City, CityHost
from .rules import CityRules

TTL_SECONDS = 5.0


def city_context(city: City) -> CityContext:
    return CityContext(
        id=city.id,
        slug=city.slug,
        name=city.name,
        timezone=city.timezone,
        rules=CityRules.model_validate(city.rules or {}),
        config_version=city.config_version,
    )


class CityResolver:
    """Looks cities up by slug or host through the database, with a small TTL cache."""

    def __init__(self, db, ttl: float = TTL_SECONDS):
        self.db = db
        self.ttl = ttl
        self._by_slug: dict[str, tuple[float, CityContext | None]] = {}
        self._by_host: dict[str, tuple[float, str | None]] = {}

    def invalidate(self, slug: str | None = None) -> None:
        if slug is None:
            self._by_slug.clear()
            self._by_host.clear()
        else:
            self._by_slug.pop(slug, None)

    async def by_slug(self, slug: str) -> CityContext | None:
        hit = self._by_slug.get(slug)
        now = time.monotonic()
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        async with self.db.transaction() as s:
            city = await s.scalar(select(City).where(City.slug == slug, City.active.is_(True)))
        ctx = city_context(city) if city else None
        self._by_slug[slug] = (now, ctx)
        return ctx

    async def by_host(self, host: str) -> CityContext | None:
        host = host.split(":", 1)[0].lower()
        hit = self._by_host.get(host)
        now = time.monotonic()
        if hit and now - hit[0] < self.ttl:
            slug = hit[1]
        else:
            async with self.db.transaction() as s:
                slug = await s.scalar(
                    select(City.slug).join(CityHost, CityHost.city_id == City.id).where(CityHost.host == host)
                )
            self._by_host[host] = (now, slug)
        return await self.by_slug(slug) if slug else None
