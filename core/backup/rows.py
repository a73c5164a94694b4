"""Reading, writing and checking one city's rows, table by table, on SQLite and PostgreSQL.

Everything here runs on a connection of the tables' owner (``DATABASE_URL``). On PostgreSQL
the transaction names the city for row-level security (``app.city_id``), so even a query
without its ``WHERE city_id`` could not see another city; the tables' own triggers (the
append-only ledger, issued invoices) are switched off for the loading transaction only,
because restored rows are history, not new writes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC
from typing import Any, AsyncIterator, Iterable

from sqlalchemy import Table, delete, func, insert, select, text
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from .canonical import Digest, parse_line, row_line
from .tables import CitySchema, TableSpec

BATCH = 500


class BackupError(Exception):
    """A backup or restore that cannot go on: the message names the table and what is wrong."""


@dataclass(frozen=True)
class TableSum:
    """A table's city rows: how many and the SHA-256 of their canonical lines."""

    name: str
    rows: int
    sha256: str


def is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


async def set_city(conn: AsyncConnection, city_id: int) -> None:
    """Name the city for row-level security for the rest of this transaction (PostgreSQL)."""
    if is_postgres(conn):
        await conn.execute(text("SELECT set_config('app.city_id', :c, true)"), {"c": str(city_id)})


def _ordered(conn: AsyncConnection, table: Table, spec: TableSpec) -> list[Any]:
    out: list[Any] = []
    for name in spec.primary_key:
        col = table.c[name]
        if is_postgres(conn) and isinstance(col.type, sqltypes.String):
            out.append(col.collate("C"))  # code-point order, as SQLite and Python sort text
        else:
            out.append(col)
    return out


def _table(schema: CitySchema, spec: TableSpec) -> Table:
    table = schema.table(spec.name)
    if table is None:
        raise BackupError(f"table {spec.name}: missing in this database (a plugin not installed, or not migrated?)")
    missing = [c for c in spec.columns if c not in table.c]
    if missing:
        raise BackupError(f"table {spec.name}: column {missing[0]} missing in this database")
    return table


async def read_lines(conn: AsyncConnection, schema: CitySchema, spec: TableSpec, city_id: int) -> AsyncIterator[str]:
    """The canonical lines of a table's rows of the city, in primary-key order."""
    table = _table(schema, spec)
    stmt = (
        select(*[table.c[c] for c in spec.columns])
        .where(table.c[spec.key] == city_id)
        .order_by(*_ordered(conn, table, spec))
    )
    kinds = list(spec.kinds)
    result = await conn.stream(stmt.execution_options(yield_per=BATCH))
    async for row in result:
        yield row_line(kinds, row)


async def table_sum(conn: AsyncConnection, schema: CitySchema, spec: TableSpec, city_id: int) -> TableSum:
    digest = Digest()
    async for line in read_lines(conn, schema, spec, city_id):
        digest.add(line)
    return TableSum(spec.name, digest.rows, digest.sha256)


async def city_sums(conn: AsyncConnection, schema: CitySchema, specs: list[TableSpec], city_id: int) -> list[TableSum]:
    """Count and checksum of every table's rows of the city (in one transaction: a snapshot)."""
    return [await table_sum(conn, schema, spec, city_id) for spec in specs]


def mismatches(expected: Iterable[TableSum], found: Iterable[TableSum]) -> list[str]:
    """What differs, table by table in load order: one line each, empty when all agree."""
    have = {s.name: s for s in found}
    out = []
    for want in expected:
        got = have.get(want.name)
        if got is None:
            out.append(f"{want.name}: not checked")
        elif got.rows != want.rows:
            out.append(f"{want.name}: {got.rows} rows, expected {want.rows}")
        elif got.sha256 != want.sha256:
            out.append(f"{want.name}: checksum {got.sha256[:16]}… differs from the expected {want.sha256[:16]}…")
    return out


async def verify_city(conn: AsyncConnection, schema: CitySchema, specs: list[TableSpec], city_id: int,
                      expected: list[TableSum]) -> list[str]:
    """Count and checksum the city's rows here against ``expected``; the differences (or [])."""
    return mismatches(expected, await city_sums(conn, schema, specs, city_id))


async def _insert(conn: AsyncConnection, table: Table, spec: TableSpec, rows: list[dict]) -> None:
    try:
        await conn.execute(insert(table), rows)
    except Exception as exc:  # a constraint of the target: say which table, not a traceback
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise BackupError(f"table {spec.name}: {first}") from exc


async def load_rows(conn: AsyncConnection, schema: CitySchema, spec: TableSpec,
                    lines: AsyncIterator[str] | Iterable[str]) -> tuple[Digest, int]:
    """Insert the rows of ``lines`` into the table; their digest and the largest integer id."""
    table = _table(schema, spec)
    for name in spec.columns:  # a JSON column's None is SQL NULL where the column allows it
        col = table.c[name]
        if isinstance(col.type, sqltypes.JSON) and col.nullable:
            col.type.none_as_null = True
    kinds = list(spec.kinds)
    aware = [i for i, name in enumerate(spec.columns)
             if spec.kinds[i] == "datetime" and getattr(table.c[name].type, "timezone", False)]
    id_at = spec.columns.index("id") if "id" in spec.columns and spec.kinds[spec.columns.index("id")] == "int" else -1
    digest, batch, top = Digest(), [], 0
    async for line in _aiter(lines):
        digest.add(line)
        values = parse_line(kinds, line)
        for i in aware:
            if values[i] is not None and values[i].tzinfo is None:
                values[i] = values[i].replace(tzinfo=UTC)
        if id_at >= 0 and values[id_at] is not None:
            top = max(top, values[id_at])
        batch.append(dict(zip(spec.columns, values, strict=True)))
        if len(batch) >= BATCH:
            await _insert(conn, table, spec, batch)
            batch = []
    if batch:
        await _insert(conn, table, spec, batch)
    return digest, top


async def _aiter(lines: AsyncIterator[str] | Iterable[str]) -> AsyncIterator[str]:
    if hasattr(lines, "__aiter__"):
        async for line in lines:
            yield line
    else:
        for line in lines:
            yield line


async def advance_sequence(conn: AsyncConnection, spec: TableSpec, top: int) -> None:
    """Move the id sequence of a table past ``top`` (PostgreSQL; never backwards, since other
    cities' rows may hold higher ids)."""
    if not is_postgres(conn) or top <= 0 or spec.primary_key != ("id",):
        return
    seq = (await conn.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": f'"{spec.name}"'})).scalar()
    if not seq:
        return
    last, called = (await conn.execute(text(f"SELECT last_value, is_called FROM {seq}"))).one()
    if top > (last if called else last - 1):
        await conn.execute(text("SELECT setval(CAST(:s AS regclass), :v)"), {"s": seq, "v": top})


async def delete_city_rows(conn: AsyncConnection, schema: CitySchema, city_id: int) -> None:
    """Delete every row of the city, children first, then the city itself (inside the caller's
    transaction, with the triggers off: see :func:`triggers_off`)."""
    await set_city(conn, city_id)
    for spec in reversed(schema.specs):
        table = schema.table(spec.name)
        assert table is not None
        await conn.execute(delete(table).where(table.c[spec.key] == city_id))


async def count_rows(conn: AsyncConnection, schema: CitySchema, spec: TableSpec, city_id: int) -> int:
    table = _table(schema, spec)
    found = (await conn.execute(select(func.count()).select_from(table).where(table.c[spec.key] == city_id))).scalar()
    return int(found or 0)


async def _replica_role(conn: AsyncConnection) -> bool:
    """Switch this transaction to ``session_replication_role = replica`` (triggers do not fire,
    no table is locked) if the login may: a superuser, or one granted it (PostgreSQL 15+:
    ``GRANT SET ON PARAMETER session_replication_role TO guahao``). False if it may not."""
    try:
        async with conn.begin_nested():
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
    except DBAPIError:
        return False
    return True


@contextlib.asynccontextmanager
async def triggers_off(conn: AsyncConnection, tables: list[str]) -> AsyncIterator[None]:
    """The tables' own triggers off until the block ends, inside the caller's transaction, so
    nobody else ever sees them off. PostgreSQL: the transaction's replication role when the
    login may set it (no lock on any table; the foreign keys are not checked either, which
    the counts and checksums make up for), else ``ALTER TABLE … DISABLE TRIGGER USER`` (keeps
    the foreign-key checks, but locks those tables against every other city's readers and
    writers until the transaction ends). SQLite: the triggers are dropped and created again."""
    wanted = set(tables)
    if is_postgres(conn):
        if await _replica_role(conn):
            yield
            await conn.execute(text("SET LOCAL session_replication_role = origin"))
            return
        rows = await conn.execute(text(
            "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"))
        names = sorted(r[0] for r in rows if r[0] in wanted)
        for name in names:
            await conn.execute(text(f'ALTER TABLE "{name}" DISABLE TRIGGER USER'))
        yield
        for name in names:
            await conn.execute(text(f'ALTER TABLE "{name}" ENABLE TRIGGER USER'))
        return
    rows = await conn.execute(text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"))
    saved = [(name, sql) for name, tbl, sql in rows if tbl in wanted]
    for name, _sql in saved:
        await conn.execute(text(f'DROP TRIGGER "{name}"'))
    yield
    for _name, sql in saved:
        await conn.exec_driver_sql(sql)
