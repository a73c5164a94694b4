"""How the booking hot path's statements reach the database: one interface, two ways.

``reserve`` decides everything (the rules live there and in ``rules``); this module only runs
its statements. :class:`CoreStatements` runs them as SQLAlchemy Core statements on the
session's connection (every backend). On PostgreSQL, :class:`AsyncpgStatements` runs the same
SQL directly on the asyncpg connection under that session connection: same connection, so
the same transaction, the same ``SET LOCAL app.city_id`` and row-level security, but without
SQLAlchemy's per-statement work, which costs more CPU than the database spends on them. Its
writes (booking, events, outbox rows, idempotency record) and the taking of the unit go in
one statement, one round trip.

:func:`statements_for` picks the implementation, in one place.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Mapping, Protocol, Sequence

import asyncpg
from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement

from guahao.core.models import Booking, BookingEvent, IdempotencyRecord, OutboxMessage, SlotPool
from guahao.tenants.db import refuse_frozen_write

from . import events
from .inventory import take_unit
from .refs import RefTaken


class DuplicateBooking(Exception):
    """The booking row broke one of the bookings table's constraints (one per member and session)."""


def _is_primary_key(message: str) -> bool:
    """Whether a unique violation is the bookings table's primary key (a reference already in use)."""
    return "bookings_pkey" in message or "bookings.id" in message


class HotPathStatements(Protocol):
    async def fetch_one(self, s: AsyncSession, stmt: ClauseElement, params: dict[str, Any]) -> Mapping[str, Any] | None:
        """The first row of a Core SELECT (column labels as keys), ``None`` if none."""

    async def write_and_take(
        self, s: AsyncSession, booking: dict[str, Any], records: Sequence[dict[str, Any]], *, pool_id: int
    ) -> bool:
        """Insert the booking, the collected events/outbox rows and ``records`` (idempotency),
        then take one unit of the pool: ``False`` when none is left. A booking that breaks
        the bookings table's constraints raises :class:`DuplicateBooking` (:class:`RefTaken`
        when its reference is already in use)."""


_INSERT_BOOKING = insert(Booking.__table__)
_INSERT_RECORD = insert(IdempotencyRecord.__table__)
_PG_DIALECT = asyncpg_dialect.dialect()


class CoreStatements:
    """SQLAlchemy Core on the session's connection, one statement per step (every backend)."""

    async def fetch_one(self, s: AsyncSession, stmt: ClauseElement, params: dict[str, Any]) -> Mapping[str, Any] | None:
        conn = await s.connection()
        return (await conn.execute(stmt, params)).mappings().first()

    async def write_and_take(
        self, s: AsyncSession, booking: dict[str, Any], records: Sequence[dict[str, Any]], *, pool_id: int
    ) -> bool:
        conn = await s.connection()
        try:
            await conn.execute(_INSERT_BOOKING, booking)
        except IntegrityError as exc:
            if _is_primary_key(str(exc.orig)):
                raise RefTaken() from None
            raise DuplicateBooking() from None
        await events.write(s)
        if records:
            await conn.execute(_INSERT_RECORD, list(records))
        return await take_unit(s, pool_id)


def _names(table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if c is not table.autoincrement_column)


_BOOKING_COLS = tuple(c.name for c in Booking.__table__.columns)
_EVENT_COLS = _names(BookingEvent.__table__)
_OUTBOX_COLS = _names(OutboxMessage.__table__)
_RECORD_COLS = _names(IdempotencyRecord.__table__)


def _recordset_insert(table, cols: tuple[str, ...], param: int) -> str:
    """``INSERT … SELECT`` from a JSON array of objects (one parameter for any number of rows)."""
    pg_types = {c.name: c.type.compile(dialect=_PG_DIALECT) for c in table.columns}
    spec = ", ".join(f'"{c}" {pg_types[c]}' for c in cols)
    names = ", ".join(f'"{c}"' for c in cols)
    return f"INSERT INTO {table.name} ({names}) SELECT {names} FROM json_to_recordset(${param}::text::json) AS x({spec})"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _plain(value: Any) -> Any:
    """Enum members as their plain values (asyncpg encodes by exact type)."""
    return str(value) if isinstance(value, str) and type(value) is not str else value


def _rows_json(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(rows), default=_json_default)


_N = len(_BOOKING_COLS)
_POOLS = SlotPool.__table__
# The inserts are CTEs of the UPDATE that takes the unit: one round trip. A refused UPDATE
# returns no row and the caller's error rolls the inserts back with the transaction.
_WRITE_AND_TAKE = (
    "WITH b AS (INSERT INTO bookings ({cols}) VALUES ({values})), "
    "e AS ({events}), o AS ({outbox}), i AS ({records}) "
    "UPDATE {pools} SET booked = booked + 1 WHERE id = ${pool} AND city_id = ${city} AND booked < capacity RETURNING id"
).format(
    cols=", ".join(f'"{c}"' for c in _BOOKING_COLS),
    values=", ".join(f"${i + 1}" for i in range(_N)),
    events=_recordset_insert(BookingEvent.__table__, _EVENT_COLS, _N + 1),
    outbox=_recordset_insert(OutboxMessage.__table__, _OUTBOX_COLS, _N + 2),
    records=_recordset_insert(IdempotencyRecord.__table__, _RECORD_COLS, _N + 3),
    pools=_POOLS.name,
    pool=_N + 4,
    city=_N + 5,
)


class _Compiled:
    """A Core statement as asyncpg SQL: the parameter order, and the values the statement fixes itself."""

    __slots__ = ("sql", "names", "fixed")

    def __init__(self, stmt: ClauseElement, params: dict[str, Any]):
        expanded = stmt.compile(dialect=_PG_DIALECT).construct_expanded_state(params)
        self.sql = expanded.statement
        self.names = tuple(expanded.positiontup or ())
        self.fixed = {k: (str(v) if isinstance(v, str) else v) for k, v in expanded.parameters.items() if k not in params}

    def args(self, params: dict[str, Any]) -> list[Any]:
        fixed = self.fixed
        return [params[n] if n in params else fixed[n] for n in self.names]


class AsyncpgStatements:
    """Plain SQL on the asyncpg connection of the session's current connection (PostgreSQL)."""

    _DRIVER = "guahao.asyncpg_connection"

    def __init__(self) -> None:
        self._compiled: dict[int, _Compiled] = {}

    async def _driver(self, s: AsyncSession, sql: str | None = None):
        """The asyncpg connection, only when its transaction has begun (else ``None``), for
        running ``sql``."""
        conn = (await s.connection()).sync_connection  # checked out and begun by now
        if sql is not None:
            refuse_frozen_write(conn, sql)  # a city being copied to another cell takes no writes
        cached = s.info.get(self._DRIVER)
        if cached is not None and cached[0] is conn:
            apg = cached[1]
        else:
            apg = conn.connection.driver_connection
            s.info[self._DRIVER] = (conn, apg)
        return apg if apg.is_in_transaction() else None

    async def fetch_one(self, s: AsyncSession, stmt: ClauseElement, params: dict[str, Any]) -> Mapping[str, Any] | None:
        compiled = self._compiled.get(id(stmt))
        if compiled is None:
            compiled = self._compiled[id(stmt)] = _Compiled(stmt, params)
        apg = await self._driver(s, compiled.sql)
        if apg is None:  # never run outside the session's transaction
            return await _CORE.fetch_one(s, stmt, params)
        return await apg.fetchrow(compiled.sql, *compiled.args(params))

    async def write_and_take(
        self, s: AsyncSession, booking: dict[str, Any], records: Sequence[dict[str, Any]], *, pool_id: int
    ) -> bool:
        apg = await self._driver(s, _WRITE_AND_TAKE)
        if apg is None:
            return await _CORE.write_and_take(s, booking, records, pool_id=pool_id)
        trail, outbox = events.take_trail(s)
        if s.new or s.dirty or s.deleted:
            await s.flush()
        args = [_plain(booking[c]) for c in _BOOKING_COLS]
        args += [_rows_json(trail), _rows_json(outbox), _rows_json(records), pool_id, booking["city_id"]]
        try:
            row = await apg.fetchrow(_WRITE_AND_TAKE, *args)
        except asyncpg.IntegrityConstraintViolationError as exc:
            if exc.table_name == Booking.__table__.name:
                if _is_primary_key(exc.constraint_name or ""):
                    raise RefTaken() from None
                raise DuplicateBooking() from None
            raise IntegrityError(_WRITE_AND_TAKE, None, exc) from None
        return row is not None


_CORE = CoreStatements()
_ASYNCPG = AsyncpgStatements()


def statements_for(s: AsyncSession) -> HotPathStatements:
    """The asyncpg way on PostgreSQL's asyncpg driver, Core statements elsewhere."""
    dialect = s.bind.dialect
    if dialect.name == "postgresql" and dialect.driver == "asyncpg":
        return _ASYNCPG
    return _CORE
