"""The cell directory (R15.5): which PostgreSQL cluster holds which city.

A *cell* is a PostgreSQL cluster (behind its pgbouncer) with the full schema, holding the rows
of whole cities. The platform database is the unnamed cell (``""``) every city starts on, and
it keeps the directory: the ``cells`` table (name → owner connection, sealed with the data
key) and each city's ``cell``. Processes open a cell's pools the first time they meet a city
that lives there (``Database.ensure_cell``), and at start (:func:`load_all`).

Moving a city between cells is ``core.cells``; this module only reads and writes the directory.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlmodel import col

from .context import platform_scope, use_cell
from .crypto import cipher
from .models import Cell, City

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


class CellError(ValueError):
    """A directory change that cannot be made (bad name, unknown cell, not PostgreSQL)."""


def masked(url: str) -> str:
    """``url`` with its password hidden, for lists and logs."""
    return make_url(url).render_as_string(hide_password=True)


async def _rows(db) -> list[Cell]:
    with platform_scope("cell directory"), use_cell(""):
        async with db.transaction() as s:
            return list((await s.scalars(select(Cell).order_by(col(Cell.name)))).all())


async def owner_urls(db) -> dict[str, str]:
    """Every cell's owner connection, by name."""
    return {row.name: cipher().decrypt(row.url) for row in await _rows(db)}


async def load_into(db, name: str) -> None:
    """Open the pools of cell ``name`` in ``db`` (``CellError`` if the directory lacks it)."""
    urls = await owner_urls(db)
    if name not in urls:
        raise CellError(f"no database cell named {name!r} in the directory")
    db.add_cell(name, urls[name])


async def load_all(db) -> list[str]:
    """Open the pools of every cell in the directory; their names."""
    urls = await owner_urls(db)
    for name, url in urls.items():
        db.add_cell(name, url)
    return sorted(urls)


async def ordinals(db) -> dict[str, int]:
    """Each cell's ordinal (its id range), the platform database's (0) under ``""``."""
    return {"": 0, **{row.name: row.ordinal for row in await _rows(db)}}


async def next_ordinal(db) -> int:
    return max((await ordinals(db)).values()) + 1


def check_new(name: str, owner_url: str) -> None:
    """Refuse a bad cell name or a database that is not PostgreSQL (``CellError``)."""
    if not NAME.fullmatch(name or ""):
        raise CellError("a cell name is 1–40 lower-case letters, digits, '-' or '_', starting with a letter")
    if make_url(owner_url).get_backend_name() != "postgresql":
        raise CellError("a cell is a PostgreSQL database (postgresql://…)")


async def register(db, name: str, owner_url: str, ordinal: int) -> Cell:
    """Add cell ``name`` to the directory with ``ordinal`` (its schema must already be
    migrated, and its id ranges set: ``core.cells.add_cell`` does both)."""
    check_new(name, owner_url)
    with platform_scope("cell directory: add a cell"), use_cell(""):
        async with db.transaction() as s:
            if await s.get(Cell, name) is not None:
                raise CellError(f"a cell named {name!r} exists already")
            cell = Cell(name=name, ordinal=ordinal, url=cipher().encrypt(owner_url))
            s.add(cell)
    db.add_cell(name, owner_url)
    return cell


async def cities_by_cell(db) -> dict[str, list[str]]:
    """Each cell's cities (slugs), the platform database's under ``""``."""
    out: dict[str, list[str]] = {"": []}
    with platform_scope("cell directory: cities per cell"), use_cell(""):
        async with db.transaction() as s:
            for slug, cell in (await s.execute(select(col(City.slug), col(City.cell)).order_by(col(City.slug)))).all():
                out.setdefault(cell, []).append(slug)
    return out
