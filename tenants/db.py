"""The one session factory, with both tenant walls attached.

Wall 1 (every backend): the ORM adds ``city_id = <current city>`` to every query of a tenant
model and fills ``city_id`` on insert, refusing rows of another city.
Wall 2 (PostgreSQL): each transaction sets ``app.city_id`` with ``set_config(..., true)``
(the ``SET LOCAL`` form) so the row-level security policies of ``tenants.rls`` apply; the
application connects as a role that is neither superuser nor table owner.

A transaction begun inside ``tenants.context.platform_scope`` runs on a second, small pool
that logs in as the platform role (BYPASSRLS); the application's own login cannot reach it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from typing import AsyncIterator

from sqlalchemy import Integer, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql import column as sql_column

from .context import current_city, platform_reason
from .models import TenantModel
from .settings import DEFAULT_POOL_SIZE, Settings

log = logging.getLogger("guahao.db")

# Connections the platform pool keeps per process: cross-city work is the outbox relay, job
# look-ups, metering flushes, the vendor's pages and commands, never the booking rush.
PLATFORM_POOL_SIZE = 3


# ``with_loader_criteria`` first analyses the criterion against the mixin itself, where
# pydantic hides the field; this stand-in column is what that analysis sees. Mapped
# subclasses answer with their real ``city_id`` column.
_CITY_ID_STANDIN = sql_column("city_id", Integer)


class TenantIsolationError(RuntimeError):
    """Tenant data was touched without a city, or a row of another city was written."""


class TenantSession(Session):
    """ORM session whose queries are scoped to the current city (see module docstring).

    The connection comes from the platform pool (``info["platform_bind"]``, when the
    database has one) if the transaction begins inside ``platform_scope``.
    """

    def get_bind(self, *args, **kwargs):
        platform_bind = self.info.get("platform_bind")
        if platform_bind is not None and platform_reason() is not None:
            return platform_bind
        return super().get_bind(*args, **kwargs)


@event.listens_for(TenantSession, "do_orm_execute")
def _scope_to_city(state: ORMExecuteState) -> None:
    if state.is_column_load or state.execution_options.get("skip_city_scope"):
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if platform_reason() is not None:
        return
    city = current_city()
    if city is None:
        if _touches_tenant_model(state):
            raise TenantIsolationError("query on tenant data without a current city")
        return
    city_id = city.id
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantModel, lambda cls: getattr(cls, "city_id", _CITY_ID_STANDIN) == city_id, include_aliases=True
        )
    )


def _touches_tenant_model(state: ORMExecuteState) -> bool:
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, TenantModel):
            return True
    return False


@event.listens_for(TenantSession, "before_flush")
def _stamp_city(session, flush_context, instances) -> None:
    city = current_city()
    platform = platform_reason() is not None
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantModel):
            continue
        if getattr(obj, "city_id", None) is None:
            if city is None:
                raise TenantIsolationError(f"cannot write {type(obj).__name__} without a current city")
            obj.city_id = city.id
        elif city is not None and obj.city_id != city.id and not platform:
            raise TenantIsolationError(f"{type(obj).__name__} belongs to another city")


_SET_LOCAL_CITY = text("SELECT set_config('app.city_id', :city, true)")
_SET_LOCAL_CITY_ASYNCPG = "SELECT set_config('app.city_id', $1, true)"


@event.listens_for(TenantSession, "after_begin")
def _set_local_city(session, transaction, connection) -> None:
    if connection.dialect.name != "postgresql" or platform_reason() is not None:
        return  # a platform transaction is on the platform login, which bypasses the policies
    city = current_city()
    value = str(city.id) if city else ""
    if connection.dialect.driver == "asyncpg":  # every transaction pays this: skip the compiler
        connection.exec_driver_sql(_SET_LOCAL_CITY_ASYNCPG, (value,))
    else:
        connection.execute(_SET_LOCAL_CITY, {"city": value})


def _sqlite_setup(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA busy_timeout=10000")  # first: the next pragma may wait for a lock
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        # Writers queue up instead of failing with "database is locked" on upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(
    url: str, *, pool_size: int = DEFAULT_POOL_SIZE, pre_ping: bool = False, application_name: str = "guahao"
) -> AsyncEngine:
    """An engine for ``url``; on PostgreSQL a pool of ``pool_size`` connections (as many again
    in overflow), testing each before use when ``pre_ping`` (``Settings.db_pool_size`` and
    ``db_pre_ping``), named ``application_name`` in ``pg_stat_activity``."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_async_engine(url)
        _sqlite_setup(engine)
        return engine
    # No pre-ping by default: it costs a round trip on every checkout, on the booking rush's hot path.
    # A connection broken by a database restart fails one request and invalidates the
    # pool (SQLAlchemy's disconnect detection); recycling bounds a connection's age.
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": application_name}},
    )


class Database:
    """Owns the application's engines and hands out tenant-scoped sessions.

    Parameters:
        settings: where to connect; the app uses ``settings.app_url``, and for transactions
            begun inside ``platform_scope`` ``settings.platform_url`` (on PostgreSQL a second
            pool of at most ``PLATFORM_POOL_SIZE`` connections, as many again in overflow,
            opened only when platform work first needs one).
        url: override the URL (the owner connection for migrations and admin commands); every
            transaction then uses it.
    """

    def __init__(self, settings: Settings, url: str | None = None):
        self.settings = settings
        self.url = url or settings.app_url
        self.engine = make_engine(self.url, pool_size=settings.db_pool_size, pre_ping=settings.db_pre_ping)
        self.dialect = self.engine.dialect.name
        self.platform_engine: AsyncEngine | None = None
        if self.url == settings.app_url and settings.platform_url != self.url:
            self.platform_engine = make_engine(
                settings.platform_url,
                pool_size=min(settings.db_pool_size, PLATFORM_POOL_SIZE),
                pre_ping=settings.db_pre_ping,
                application_name="guahao-platform",
            )
        self._factory = async_sessionmaker(
            self.engine,
            class_=AsyncSession,
            sync_session_class=TenantSession,
            expire_on_commit=False,
            info={"platform_bind": self.platform_engine.sync_engine if self.platform_engine else None},
        )

    def session(self) -> AsyncSession:
        """A new session; use ``async with db.session() as s, s.begin(): …``."""
        return self._factory()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction, committed on success, rolled back on error."""
        async with self._factory() as s:
            async with s.begin():
                yield s

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.platform_engine is not None:
            await self.platform_engine.dispose()
