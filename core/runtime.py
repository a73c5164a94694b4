"""Everything a running process needs, built once from settings: the web app and the worker
share it, tests build their own. No import-time globals besides the data cipher.
"""

from __future__ import annotations

import logging

from guahao.tenants.cache import TtlCache
from guahao.tenants.crypto import configure_cipher
from guahao.tenants.db import Database
from guahao.tenants.resolver import CityResolver
from guahao.tenants.settings import Settings

log = logging.getLogger("guahao")


class Runtime:
    """Process-wide services.

    Parameters:
        settings: configuration; the database, Redis and keys come from here. Keys unfit for
            a production server raise ``tenants.settings.InsecureKeys`` (see
            ``Settings.key_problem``).

    Attributes:
        db: the application's tenant-scoped database (app role on PostgreSQL).
        resolver: city lookup by slug/host, cached.
        plugins: the per-city plugin host (``core.plugins.manager.PluginHost``).
        gate: the sold-out gate that turns away requests for empty pools before the database.
        availability_cache: recent availability answers (``settings.availability_cache_seconds``).
        redis: an ``arq`` Redis pool when ``settings.redis_url`` is set, else ``None``.
    """

    def __init__(self, settings: Settings):
        from guahao.core.booking.gate import make_gate
        from guahao.core.metrics import watch_pool
        from guahao.core.plugins.manager import PluginHost

        settings.require_keys()
        if settings.production and not settings.data_key:
            log.warning("GUAHAO_DATA_KEY is not set: GUAHAO_SECRET_KEY also encrypts personal data; "
                        "set GUAHAO_DATA_KEY to its value before the secret key is ever rotated")
        self.settings = settings
        configure_cipher(settings.data_keys)
        self.db = Database(settings)
        watch_pool(self.db.engine, "app")
        if self.db.platform_engine is not None:
            watch_pool(self.db.platform_engine, "platform")
        self.resolver = CityResolver(self.db)
        self.plugins = PluginHost(self)
        self.gate = make_gate(settings)
        self.redis = None
        self.availability_cache: TtlCache[list[dict]] = TtlCache(settings.availability_cache_seconds)

    async def start(self) -> None:
        if self.settings.redis_url:
            from arq import create_pool
            from arq.connections import RedisSettings

            self.redis = await create_pool(RedisSettings.from_dsn(self.settings.redis_url))
            await self.gate.connect(self.redis)
        await self.load_cells()

    async def load_cells(self) -> None:
        """Open the pools of every database cell in the directory (none on a single database).
        A database not migrated yet has no directory: nothing to open."""
        from sqlalchemy.exc import DBAPIError

        from guahao.tenants import cells

        try:
            await cells.load_all(self.db)
        except DBAPIError as exc:
            log.debug("no cell directory to read (%s)", type(exc).__name__)

    async def stop(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None
        await self.db.dispose()
