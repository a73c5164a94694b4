"""The one session factory, with both tenant walls attached.

Wall 1 (every backend): the ORM adds ``city_id = <current city>`` to every query of a tenant
model and fills ``city_id`` on insert, refusing rows of another city.
Wall 2 (PostgreSQL): each transaction sets ``app.city_id`` with ``set_config(..., true)``
(the ``SET LOCAL`` form) so the row-level security policies of ``tenants.rls`` apply; the
application connects as a role that is neither superuser nor table owner.

A transaction begun inside ``tenants.context.platform_scope`` runs on a second, small pool
that logs in as the platform role (BYPASSRLS); the application's own login cannot reach it.

Cells (R15.5): a city whose directory entry names a cell (``tenants.cells``) has its
transactions run on that cell's pools; :func:`tenants.context.use_cell` picks a cell for
cross-city work. On PostgreSQL every city transaction also takes a shared advisory lock on its
city and reads the city's ``cell_state`` on the database it runs on, in the same statement that
sets ``app.city_id``: a copy to another cell takes that lock exclusively to freeze the city
(writes refused with :class:`CityMoving`, reads go on), and a database the city has left
refuses both, so a process that has not yet seen the new directory entry never writes to the
old copy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
from typing import AsyncIterator

from sqlalchemy import Engine, Integer, Pool, event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.sql import column as sql_column

from .context import current_cell, current_city, platform_reason
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


class CityMoving(RuntimeError):
    """The city is being copied to another database cell (writes wait a few seconds), or this
    process still routes it to the cell it left. Answered 503 with ``Retry-After``."""

    code = "city_moving"
    status = 503
    retry_after = 5

    def __init__(self, detail: str = ""):
        super().__init__(detail or "city moving between database cells")
        self.message = ("系统正在维护，请稍后几秒再试，您的操作没有被执行。 / "
                        "Maintenance in progress: nothing was changed, try again in a few seconds.")
        self.headers = {"Retry-After": str(self.retry_after)}

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": {"retry_after": self.retry_after}}}


class UnknownCell(TenantIsolationError):
    """A city's cell that this process has not loaded (``Database.ensure_cell`` first)."""


class TenantSession(Session):
    """ORM session whose queries are scoped to the current city (see module docstring).

    The connection comes from the current cell's pools (``info["cells"]``, a city's own or
    the one :func:`tenants.context.use_cell` names) for tenant tables and plain SQL, and from
    the platform database's for the platform's own tables (the directory, cities, vendor
    accounts), wherever the city lives; within either, from the platform pool
    (``info["platform_bind"]`` or the cell's) if the transaction begins inside
    ``platform_scope``.
    """

    def get_bind(self, mapper=None, clause=None, **kwargs):
        platform = platform_reason() is not None
        cell = current_cell()
        if cell and mapper is not None and not issubclass(mapper.class_, TenantModel):
            cell = ""  # the platform's own tables live in the platform database only
        if cell:
            binds = self.info.get("cells", {}).get(cell)
            if binds is None:
                raise UnknownCell(f"database cell {cell!r} is not loaded in this process")
            return binds[1] if platform else binds[0]
        platform_bind = self.info.get("platform_bind")
        if platform_bind is not None and platform:
            return platform_bind
        return super().get_bind(mapper=mapper, clause=clause, **kwargs)


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


_WRITE = re.compile(r"^\s*(insert|update|delete|merge)\b|^\s*with\b.*\b(insert|update|delete)\b", re.I | re.S)
FROZEN = "guahao_city_frozen"
"""Key in a connection's ``info``: the city transaction it runs may not write (set and cleared
at each transaction's begin, ``_set_local_city``)."""


def refuse_frozen_write(conn, statement: str) -> None:
    """Raise :class:`CityMoving` if ``statement`` writes and ``conn`` (a SQLAlchemy
    ``Connection``) runs a transaction of a frozen city. SQLAlchemy calls it before every
    statement; code that runs SQL on the driver's connection directly calls it too."""
    if conn.info.get(FROZEN) and _WRITE.match(statement):
        raise CityMoving("writes refused while the city is copied to another cell")


@event.listens_for(Engine, "before_cursor_execute")
def _refuse_writes_while_frozen(conn, cursor, statement, parameters, context, executemany) -> None:
    refuse_frozen_write(conn, statement)


@event.listens_for(Pool, "checkin")
def _thaw_on_return(dbapi_connection, connection_record) -> None:
    if connection_record is not None:
        connection_record.info.pop(FROZEN, None)


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


CELL_LOCK_CLASS = 7_211
"""First key of the advisory lock on a city (second key: the city id) that a copy between
cells takes exclusively to freeze the city (``tenants.cells``)."""
_SET_LOCAL_CITY = text("SELECT set_config('app.city_id', :city, true)")
_SET_LOCAL_CITY_ASYNCPG = "SELECT set_config('app.city_id', $1, true)"
_ENTER_CITY = text(
    "SELECT set_config('app.city_id', :city, true), pg_advisory_xact_lock_shared(:lock, :id),"
    " (SELECT cell_state FROM cities WHERE id = :id)"
)
_ENTER_CITY_ASYNCPG = (
    "SELECT set_config('app.city_id', $1, true), pg_advisory_xact_lock_shared($2, $3),"
    " (SELECT cell_state FROM cities WHERE id = $3)"
)


def _on_a_cell(session, connection) -> bool:
    """The connection is to one of the loaded cells (not to the platform database)."""
    engine = connection.engine
    return any(engine is app or engine is platform for app, platform in session.info.get("cells", {}).values())


@event.listens_for(TenantSession, "after_begin")
def _set_local_city(session, transaction, connection) -> None:
    connection.info.pop(FROZEN, None)  # the pooled connection may have served a frozen city before
    if connection.dialect.name != "postgresql" or platform_reason() is not None:
        return  # a platform transaction is on the platform login, which bypasses the policies
    city = current_city()
    asyncpg = connection.dialect.driver == "asyncpg"  # every transaction pays this: skip the compiler
    if city is None:
        if asyncpg:
            connection.exec_driver_sql(_SET_LOCAL_CITY_ASYNCPG, ("",))
        else:
            connection.execute(_SET_LOCAL_CITY, {"city": ""})
        return
    if city.cell and not _on_a_cell(session, connection):
        # the platform database, for its own tables, of a city that lives on a cell
        if asyncpg:
            connection.exec_driver_sql(_SET_LOCAL_CITY_ASYNCPG, (str(city.id),))
        else:
            connection.execute(_SET_LOCAL_CITY, {"city": str(city.id)})
        return
    if asyncpg:
        row = connection.exec_driver_sql(_ENTER_CITY_ASYNCPG, (str(city.id), CELL_LOCK_CLASS, city.id)).first()
    else:
        row = connection.execute(_ENTER_CITY, {"city": str(city.id), "lock": CELL_LOCK_CLASS, "id": city.id}).first()
    state = row[2] if row is not None else ""
    if state == "moved":
        raise CityMoving(f"city {city.slug} has left this database cell")
    if state == "frozen":
        connection.info[FROZEN] = True


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
        self._cells: dict[str, tuple[AsyncEngine, AsyncEngine]] = {}
        self._cell_binds: dict[str, tuple] = {}
        self._factory = async_sessionmaker(
            self.engine,
            class_=AsyncSession,
            sync_session_class=TenantSession,
            expire_on_commit=False,
            info={
                "platform_bind": self.platform_engine.sync_engine if self.platform_engine else None,
                "cells": self._cell_binds,
            },
        )

    @property
    def cell_names(self) -> list[str]:
        """The cells this process knows: ``""`` (the platform database) first, then each
        loaded cell by name."""
        return ["", *sorted(self._cells)]

    def cell_engine(self, name: str) -> AsyncEngine:
        """The application pool of cell ``name`` (``""``: the platform database's)."""
        return self._cells[name][0] if name else self.engine

    def has_cell(self, name: str) -> bool:
        return not name or name in self._cells

    def add_cell(self, name: str, owner_url: str) -> None:
        """Open pools on cell ``name`` (its owner connection ``owner_url``): the application
        and platform logins derived from it as for the platform database, or the owner's own
        when this ``Database`` was opened on an explicit (owner) URL. Idempotent."""
        if not name or name in self._cells:
            return
        cell = dataclasses.replace(self.settings, database_url=owner_url, database_app_url="", database_platform_url="")
        if self.url == self.settings.app_url:
            app_url, platform_url = cell.app_url, cell.platform_url
        else:
            app_url = platform_url = cell.owner_url
        app = make_engine(app_url, pool_size=self.settings.db_pool_size, pre_ping=self.settings.db_pre_ping,
                          application_name=f"guahao-{name}")
        platform = app if platform_url == app_url else make_engine(
            platform_url, pool_size=min(self.settings.db_pool_size, PLATFORM_POOL_SIZE),
            pre_ping=self.settings.db_pre_ping, application_name=f"guahao-platform-{name}")
        self._cells[name] = (app, platform)
        self._cell_binds[name] = (app.sync_engine, platform.sync_engine)

    async def ensure_cell(self, name: str) -> None:
        """Load cell ``name`` from the directory if this process has not yet (``UnknownCell``
        if the directory has no such cell)."""
        if self.has_cell(name):
            return
        from . import cells  # the directory reads through this database

        await cells.load_into(self, name)

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
        for app, platform in self._cells.values():
            await app.dispose()
            if platform is not app:
                await platform.dispose()
        self._cells.clear()
        self._cell_binds.clear()
