"""Database cells (R15.5): add a cell, move a city from one cell to another.

A cell is a PostgreSQL database (its own cluster in production, behind its pgbouncer) with the
full schema; the directory (``tenants.cells``) says which cell holds which city, and every
request and job of a city runs its transactions there (``tenants.db``).

**Ids.** Rows keep their ids when a city moves, so ids must never collide between cells: on
the first cell, every id column of the city tables becomes 64-bit, and each database draws its
ids from a range of its own (the platform database ``[1, 2⁴⁸)``, cell *n* ``[n·2⁴⁸,
(n+1)·2⁴⁸)``). :func:`prepare_ids` does this and is repeated before every move, which also
catches tables a later migration added.

**Moving a city** (:func:`move_city`), as ``guahao city move CITY --to CELL``:

1. ids prepared on both databases;
2. *freeze*: on the source, the city's advisory lock is taken exclusively (it waits for the
   city's running transactions, which hold it shared) and the source copy is marked
   ``frozen``; from then on the city's reads go on and its writes get 503 with Retry-After;
3. *copy*: the city's rows (every table with a ``city_id``, found in the database) are copied
   from a snapshot of the source into the target in one transaction, and every table's row
   count and SHA-256 checksum are compared (``core.backup``) — any difference rolls the
   target back and unfreezes the source;
4. *switch*: the directory names the target, the target copy is live and the source copy is
   marked ``moved`` (a process that still routes the city there gets 503 until its directory
   cache refreshes, within seconds);
5. the old copy stays until ``guahao city move CITY --drop-old`` deletes it
   (:func:`drop_old_copy`).

A city moves only between named cells or from the platform database to a cell; moving back
into the platform database (whose ``cities`` row is the directory entry itself) is refused.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, AsyncIterator

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from guahao.core.backup.rows import BackupError, delete_city_rows, triggers_off
from guahao.core.backup.service import Report, copy_city_between
from guahao.core.backup.tables import CITY_TABLE, discover
from guahao.core.migrate import upgrade_async
from guahao.tenants import cells as directory
from guahao.tenants.cells import CellError
from guahao.tenants.clock import utcnow
from guahao.tenants.db import CELL_LOCK_CLASS, make_engine

RANGE_BITS = 48
FREEZE_LOCK_TIMEOUT = "15s"
"""How long the freeze waits for the city's running transactions before the move gives up."""
PLATFORM_ONLY = frozenset({"city_hosts"})
"""Tables with a ``city_id`` that belong to the platform database (the directory's side):
copied to a cell as reference rows, never deleted from the platform database."""


def id_range(ordinal: int) -> tuple[int, int]:
    """The ids database ``ordinal`` (0: the platform database) hands out: ``(low, high)``."""
    return max(ordinal << RANGE_BITS, 1), ((ordinal + 1) << RANGE_BITS) - 1


_ID_COLUMNS = text("""
SELECT c.relname AS tbl, a.attname AS col
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind = 'r' AND a.atttypid = 'int4'::regtype
  AND (a.attname = 'id' OR (a.attname LIKE '%\\_id' AND a.attname <> 'city_id'))
  AND EXISTS (SELECT 1 FROM pg_attribute x WHERE x.attrelid = c.oid AND x.attname = 'city_id' AND NOT x.attisdropped)
ORDER BY 1, 2
""")
_SEQUENCES = text("""
SELECT c.relname AS tbl, s.seqrelid::regclass::text AS seq, s.seqmin, s.seqmax, s.seqtypid = 'int8'::regtype AS wide
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
JOIN pg_depend d ON d.refobjid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
JOIN pg_sequence s ON s.seqrelid = d.objid
WHERE c.relkind = 'r'
  AND EXISTS (SELECT 1 FROM pg_attribute x WHERE x.attrelid = c.oid AND x.attname = 'city_id' AND NOT x.attisdropped)
""")


async def prepare_ids(conn: AsyncConnection, ordinal: int) -> int:
    """Make the city tables' id columns 64-bit and their sequences draw from the range of
    database ``ordinal`` (idempotent; owner connection, in the caller's transaction); returns
    how many columns and sequences were changed."""
    changed = 0
    for tbl, column in (await conn.execute(_ID_COLUMNS)).all():
        await conn.execute(text(f'ALTER TABLE "{tbl}" ALTER COLUMN "{column}" TYPE bigint'))
        changed += 1
    low, high = id_range(ordinal)
    for _tbl, seq, seqmin, seqmax, wide in (await conn.execute(_SEQUENCES)).all():
        if wide and seqmin == low and seqmax == high:
            continue
        last = (await conn.execute(text(f"SELECT last_value FROM {seq}"))).scalar()
        restart = f" START WITH {low} RESTART WITH {low}" if not low <= last <= high else ""
        await conn.execute(text(f"ALTER SEQUENCE {seq} AS bigint MINVALUE {low} MAXVALUE {high}{restart}"))
        changed += 1
    return changed


_ENGINES: ContextVar[dict[str, AsyncEngine] | None] = ContextVar("guahao_cell_engines", default=None)


@contextlib.asynccontextmanager
async def _owner_engines() -> AsyncIterator[None]:
    """Within the block, :func:`_on` keeps one owner engine per database (a move's steps are
    many short transactions on the same few databases); all closed at the end."""
    engines: dict[str, AsyncEngine] = {}
    token = _ENGINES.set(engines)
    try:
        yield
    finally:
        _ENGINES.reset(token)
        for engine in engines.values():
            await engine.dispose()


async def _on(url: str, work) -> Any:
    """Run ``work(conn)`` in one transaction on the database ``url`` (owner login)."""
    engines = _ENGINES.get()
    if engines is None:
        async with _owner_engines():
            return await _on(url, work)
    engine = engines.get(url)
    if engine is None:
        engine = engines[url] = make_engine(url, pool_size=1)
    async with engine.connect() as conn, conn.begin():
        return await work(conn)


def _cell_settings(rt, owner_url: str):
    return dataclasses.replace(rt.settings, database_url=owner_url, database_app_url="", database_platform_url="")


async def add_cell(rt, name: str, owner_url: str) -> int:
    """Bring database ``owner_url`` to the platform's schema (the same migrations), give its id
    sequences the next range, and add it to the directory as ``name``; returns its ordinal."""
    directory.check_new(name, owner_url)
    if not rt.settings.is_postgres:
        raise CellError("cells need the platform database on PostgreSQL")
    if name in (await directory.ordinals(rt.db)):
        raise CellError(f"a cell named {name!r} exists already")
    ordinal = await directory.next_ordinal(rt.db)
    await upgrade_async(_cell_settings(rt, owner_url))
    await _on(rt.settings.owner_url, lambda conn: prepare_ids(conn, 0))
    await _on(_cell_settings(rt, owner_url).owner_url, lambda conn: prepare_ids(conn, ordinal))
    await directory.register(rt.db, name, owner_url, ordinal)
    return ordinal


@dataclass
class MoveReport:
    """What a move did: the copy's per-table counts and checksums, and the write freeze."""

    slug: str
    source: str
    target: str
    copy: Report
    frozen_seconds: float
    total_seconds: float
    switched_at: datetime

    def lines(self) -> list[str]:
        rows = sum(t.rows for t in self.copy.tables)
        out = [f"moved {self.slug}: {self.source or '(platform database)'} → {self.target}: "
               f"{len(self.copy.tables)} tables, {rows} rows, counts and checksums equal; "
               f"writes frozen {self.frozen_seconds:.2f} s of {self.total_seconds:.2f} s"]
        out += [f"  {t.name:<32} {t.rows:>9}  {t.sha256[:16]}" for t in self.copy.tables if t.rows]
        return out


async def _urls(rt) -> dict[str, str]:
    """Each database's owner connection (asyncpg form), the platform database's under ``""``."""
    cells = await directory.owner_urls(rt.db)
    return {"": rt.settings.owner_url, **{name: _cell_settings(rt, url).owner_url for name, url in cells.items()}}


async def _city(rt, slug: str) -> tuple[int, str]:
    async def read(conn):
        row = (await conn.execute(text("SELECT id, cell FROM cities WHERE slug = :s"), {"s": slug})).one_or_none()
        if row is None:
            raise CellError(f"no city {slug!r}")
        return int(row.id), str(row.cell or "")

    return await _on(rt.settings.owner_url, read)


async def _set_state(url: str, city_id: int, state: str, *, cell: str | None = None) -> None:
    async def work(conn):
        if cell is None:
            await conn.execute(text("UPDATE cities SET cell_state = :st WHERE id = :i"), {"st": state, "i": city_id})
        else:
            await conn.execute(text("UPDATE cities SET cell_state = :st, cell = :c WHERE id = :i"),
                               {"st": state, "c": cell, "i": city_id})

    await _on(url, work)


async def _freeze(url: str, city_id: int) -> None:
    """Wait for the city's running transactions on ``url``, then mark its copy frozen."""
    async def work(conn):
        await conn.execute(text(f"SET LOCAL lock_timeout = '{FREEZE_LOCK_TIMEOUT}'"))
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k, :i)"), {"k": CELL_LOCK_CLASS, "i": city_id})
        await conn.execute(text("UPDATE cities SET cell_state = 'frozen' WHERE id = :i"), {"i": city_id})

    await _on(url, work)


async def _sync_reference_row(platform_url: str, source_url: str, city_id: int) -> None:
    """The source copy of the city's row takes the directory's current configuration, so the
    copy carries it (a cell's row is only a reference: the platform database's is read)."""
    if platform_url == source_url:
        return

    async def read(conn):
        return (await conn.execute(text(
            "SELECT name, timezone, rules, branding, active, config_version FROM cities WHERE id = :i"),
            {"i": city_id})).one()

    row = await _on(platform_url, read)

    async def write(conn):
        await conn.execute(text(
            "UPDATE cities SET name = :n, timezone = :tz, rules = CAST(:r AS json), branding = CAST(:b AS json),"
            " active = :a, config_version = :v WHERE id = :i"),
            {"n": row.name, "tz": row.timezone, "r": _json(row.rules), "b": _json(row.branding), "a": row.active,
             "v": row.config_version, "i": city_id})

    await _on(source_url, write)


def _json(value) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


async def move_city(rt, slug: str, to: str) -> MoveReport:
    """Move city ``slug`` to cell ``to`` (see the module docstring); raises ``CellError`` when
    the move cannot start and ``BackupError`` when the copy did not verify (nothing changed)."""
    async with _owner_engines():
        return await _move(rt, slug, to)


async def _move(rt, slug: str, to: str) -> MoveReport:
    started = time.monotonic()
    urls = await _urls(rt)
    if not to:
        raise CellError("moving a city back into the platform database is not supported; move it to another cell")
    if to not in urls:
        raise CellError(f"no database cell named {to!r}; add it with `guahao cell add`")
    city_id, source = await _city(rt, slug)
    if source == to:
        raise CellError(f"the city {slug!r} is on the cell {to!r} already")
    ords = await directory.ordinals(rt.db)
    await _on(urls[source], lambda conn: prepare_ids(conn, ords[source]))
    await _on(urls[to], lambda conn: prepare_ids(conn, ords[to]))
    await _sync_reference_row(urls[""], urls[source], city_id)
    schemas = (await _on(urls[source], discover), await _on(urls[to], discover))  # before the freeze
    replace = await _has_old_copy(urls[to], city_id)

    frozen_at = time.monotonic()
    await _freeze(urls[source], city_id)
    try:
        report = await copy_city_between(urls[source], urls[to], slug, replace=replace, schemas=schemas)
    except BaseException:
        await _set_state(urls[source], city_id, "")
        raise
    await _set_state(urls[to], city_id, "", cell=to)
    if source:
        await _set_state(urls[""], city_id, "", cell=to)  # the directory entry
        await _set_state(urls[source], city_id, "moved")
    else:
        await _set_state(urls[""], city_id, "moved", cell=to)  # directory entry and old copy in one
    frozen, switched_at = time.monotonic() - frozen_at, utcnow()
    rt.resolver.invalidate(slug)
    await rt.db.ensure_cell(to)
    return MoveReport(slug, source, to, report, frozen, time.monotonic() - started, switched_at)


async def _has_old_copy(url: str, city_id: int) -> bool:
    async def read(conn):
        return (await conn.execute(text("SELECT cell_state FROM cities WHERE id = :i"), {"i": city_id})).scalar()

    state = await _on(url, read)
    if state is None:
        return False
    if state != "moved":
        raise CellError("the target cell holds a live copy of this city")
    return True


async def drop_old_copy(rt, slug: str) -> list[str]:
    """Delete the copies a move left behind (each database where the city is ``moved``),
    after the operator confirmed the move; returns the cells cleaned (``""``: the platform
    database, where the city's own row and host names stay: they are the directory)."""
    cleaned = []
    for cell, url in (await _urls(rt)).items():
        async def work(conn, cell=cell):
            row = (await conn.execute(text("SELECT id, cell_state FROM cities WHERE slug = :s"), {"s": slug})).one_or_none()
            if row is None or row.cell_state != "moved":
                return False
            schema = await discover(conn)
            if cell == "":  # keep the directory's side
                keep = {CITY_TABLE, *PLATFORM_ONLY}
                schema.specs = [s for s in schema.specs if s.name not in keep]
            async with triggers_off(conn, schema.names()):  # the usage ledger refuses deletes otherwise
                await delete_city_rows(conn, schema, int(row.id))
            return True

        if await _on(url, work):
            cleaned.append(cell)
    return cleaned


__all__ = ["BackupError", "CellError", "MoveReport", "add_cell", "drop_old_copy", "id_range", "move_city", "prepare_ids"]
