"""Back up one city into a file, restore it into a database, copy it between databases.

Every step is checked the same way: per table the number of rows and the SHA-256 of their
canonical lines (``canonical``), taken from the source as the rows are read and recomputed
from the target after loading, inside the loading transaction, which is rolled back when
anything differs (the first difference is named). Ids are kept; on PostgreSQL the id
sequences are moved past the loaded ids.

:func:`copy_city` is the reusable core (two open connections, one city): a restore feeds it
the file's lines, a move between database cells the source database's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from guahao.tenants.clock import utcnow
from guahao.tenants.db import make_engine

from . import archive
from .canonical import Digest
from .rows import (
    BackupError,
    TableSum,
    advance_sequence,
    delete_city_rows,
    is_postgres,
    load_rows,
    mismatches,
    read_lines,
    set_city,
    triggers_off,
    verify_city,
)
from .tables import CitySchema, TableSpec, discover

Lines = Callable[[str], "AsyncIterator[str] | Iterable[str]"]


@dataclass
class Report:
    """What a backup, restore or copy did: the city, per table its rows and checksum."""

    city: dict[str, Any]
    tables: list[TableSum] = field(default_factory=list)
    seconds: float = 0.0
    source_revisions: list[str] = field(default_factory=list)
    target_revisions: list[str] = field(default_factory=list)
    replaced: bool = False

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


async def city_row(conn: AsyncConnection, slug: str) -> dict[str, Any]:
    row = (await conn.execute(text("SELECT id, slug, name FROM cities WHERE slug = :s"), {"s": slug})).one_or_none()
    if row is None:
        raise BackupError(f"no city {slug!r} in this database")
    return {"id": row.id, "slug": row.slug, "name": row.name}


async def revisions(conn: AsyncConnection) -> list[str]:
    try:
        return sorted(r[0] for r in await conn.execute(text("SELECT version_num FROM alembic_version")))
    except Exception:  # no Alembic table: an unmigrated database
        return []


async def _snapshot(conn: AsyncConnection) -> AsyncConnection:
    """One consistent, read-only view of every table for the whole read (PostgreSQL)."""
    if is_postgres(conn):
        return await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return conn


# --- loading and copying -----------------------------------------------------------------


async def load_city(target: AsyncConnection, schema: CitySchema, specs: list[TableSpec], lines_of: Lines,
                    city: dict[str, Any], *, replace: bool = False) -> tuple[list[TableSum], bool]:
    """Insert a city's rows (``lines_of(table)`` gives each table's canonical lines, in the
    order of ``specs``) into ``target`` inside the caller's transaction. Refuses a city whose
    slug exists unless ``replace`` (then its rows are deleted first), and a city id taken by
    another city. Returns the count and checksum of what was fed in, and whether a city was
    replaced."""
    city_id, slug = int(city["id"]), str(city["slug"])
    rows = (await target.execute(text("SELECT id, slug FROM cities WHERE slug = :s OR id = :i"),
                                 {"s": slug, "i": city_id})).all()
    old = next((r for r in rows if r.slug == slug), None)
    other = next((r for r in rows if r.slug != slug), None)
    if other is not None:
        raise BackupError(f"city id {city_id} is taken here by the city {other.slug!r}; restore into another database")
    if old is not None and not replace:
        raise BackupError(f"the city {slug!r} exists here (id {old.id}); give --replace to overwrite it")
    loaded = []
    async with triggers_off(target, schema.names()):
        if old is not None:
            await delete_city_rows(target, schema, old.id)
        await set_city(target, city_id)
        for spec in specs:
            digest, top = await load_rows(target, schema, spec, lines_of(spec.name))
            loaded.append(TableSum(spec.name, digest.rows, digest.sha256))
            await advance_sequence(target, spec, top)
    return loaded, old is not None


async def copy_city(source: AsyncConnection, target: AsyncConnection, slug: str, *,
                    replace: bool = False, schemas: tuple[CitySchema, CitySchema] | None = None) -> Report:
    """Copy one city from ``source`` to ``target`` and verify it, inside the callers'
    transactions (the source's should be a snapshot: REPEATABLE READ on PostgreSQL). Raises
    :class:`BackupError` naming the first table whose count or checksum differs; the caller
    then rolls the target back. ``schemas`` (source's, target's) skips reflecting the two
    databases again when the caller did it already (a move reflects before freezing writes)."""
    started = time.monotonic()
    src_schema, tgt_schema = schemas or (await discover(source), await discover(target))
    city = await city_row(source, slug)
    await set_city(source, city["id"])
    specs = {s.name: s for s in src_schema.specs}
    loaded, replaced = await load_city(
        target, tgt_schema, src_schema.specs, lambda name: read_lines(source, src_schema, specs[name], city["id"]),
        city, replace=replace)
    problems = await verify_city(target, tgt_schema, src_schema.specs, city["id"], loaded)
    if problems:
        raise BackupError(f"after copying: {problems[0]}")
    return Report(city, loaded, time.monotonic() - started, await revisions(source), await revisions(target), replaced)


async def copy_city_between(source_url: str, target_url: str, slug: str, *, replace: bool = False,
                            schemas: tuple[CitySchema, CitySchema] | None = None) -> Report:
    """:func:`copy_city` from one database URL to another (owner logins), committed only
    when every table verified."""
    src_engine, tgt_engine = make_engine(source_url, pool_size=1), make_engine(target_url, pool_size=1)
    try:
        async with src_engine.connect() as src:
            src = await _snapshot(src)
            async with src.begin(), tgt_engine.connect() as tgt, tgt.begin():
                return await copy_city(src, tgt, slug, replace=replace, schemas=schemas)
    finally:
        await src_engine.dispose()
        await tgt_engine.dispose()


# --- the backup file ----------------------------------------------------------------------


async def backup_city(url: str, slug: str, path: Path) -> Report:
    """Write one city's rows of ``url`` (the owner's URL) into the backup file ``path``, from
    one consistent snapshot."""
    started = time.monotonic()
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            conn = await _snapshot(conn)
            async with conn.begin():
                schema = await discover(conn)
                city = await city_row(conn, slug)
                await set_city(conn, city["id"])
                source = {"dialect": conn.dialect.name, "revisions": await revisions(conn)}
                writer = archive.Writer(path)
                try:
                    tables = []
                    for spec in schema.specs:
                        digest = Digest()
                        with writer.table(spec.name) as out:
                            async for line in read_lines(conn, schema, spec, city["id"]):
                                digest.add(line)
                                out.write(line + "\n")
                        tables.append((spec, TableSum(spec.name, digest.rows, digest.sha256)))
                    writer.close(archive.manifest(city, source, utcnow().isoformat(), tables))
                except BaseException:
                    writer.abort()
                    raise
    finally:
        await engine.dispose()
    return Report(city, [s for _, s in tables], time.monotonic() - started, list(source["revisions"]))


async def restore_city(path: Path, url: str, *, replace: bool = False) -> Report:
    """Load the backup file ``path`` into the database ``url`` (owner's URL, schema at
    migration head), then check every table's count and checksum against the manifest;
    all or nothing."""
    started = time.monotonic()
    reader = archive.Reader(path)
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn, conn.begin():
            schema = await discover(conn)
            loaded, replaced = await load_city(conn, schema, reader.specs, reader.lines, reader.city, replace=replace)
            problems = mismatches(reader.sums, loaded)
            if problems:
                raise BackupError(f"the file does not match its manifest: {problems[0]}")
            problems = await verify_city(conn, schema, reader.specs, reader.city["id"], reader.sums)
            if problems:
                raise BackupError(f"after loading: {problems[0]}")
            target_revisions = await revisions(conn)
    finally:
        reader.close()
        await engine.dispose()
    return Report(reader.city, loaded, time.monotonic() - started,
                  list(reader.manifest["source"].get("revisions", [])), target_revisions, replaced)


def read_manifest(path: Path) -> dict[str, Any]:
    reader = archive.Reader(path)
    try:
        return reader.manifest
    finally:
        reader.close()
