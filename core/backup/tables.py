"""Which tables hold a city, found in the database itself (not from a list in code).

A city's rows are its row of ``cities`` and, in every other table with a ``city_id`` column,
the rows with its id: core's tables, the installed plugins' and licensing's alike, whatever
migrations created them. Tables come in load order (parents before the rows that refer to
them), so inserting in this order and deleting in the reverse satisfies the foreign keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import AsyncConnection

from .canonical import kind_of

CITY_TABLE = "cities"
CITY_COLUMN = "city_id"
SKIPPED = frozenset({"alembic_version"})


@dataclass(frozen=True)
class TableSpec:
    """How a table's city rows are read and written: ``key`` is the column holding the city's
    id (``id`` for ``cities`` itself), ``columns`` sorted by name with their ``kinds``."""

    name: str
    key: str
    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    primary_key: tuple[str, ...]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TableSpec":
        return cls(
            name=data["name"], key=data["key"], columns=tuple(data["columns"]), kinds=tuple(data["kinds"]),
            primary_key=tuple(data["primary_key"]),
        )


class CitySchema:
    """The reflected tables of one database and the specs of those that hold a city."""

    def __init__(self, metadata: MetaData, specs: list[TableSpec]):
        self.metadata = metadata
        self.specs = specs

    def table(self, name: str) -> Table | None:
        return self.metadata.tables.get(name)

    def names(self) -> list[str]:
        return [s.name for s in self.specs]


def spec_of(table: Table) -> TableSpec:
    names = sorted(c.name for c in table.columns)
    pk = tuple(c.name for c in table.primary_key.columns) or tuple(names)
    return TableSpec(
        name=table.name,
        key="id" if table.name == CITY_TABLE else CITY_COLUMN,
        columns=tuple(names),
        kinds=tuple(kind_of(table.c[n].type) for n in names),
        primary_key=pk,
    )


async def discover(conn: AsyncConnection) -> CitySchema:
    """Reflect the database behind ``conn`` and find the tables that hold a city."""
    metadata = MetaData()
    await conn.run_sync(lambda sync: metadata.reflect(sync))
    specs = []
    for table in metadata.sorted_tables:  # parents first
        if table.name in SKIPPED:
            continue
        if table.name == CITY_TABLE or CITY_COLUMN in table.c:
            specs.append(spec_of(table))
    if CITY_TABLE not in [s.name for s in specs]:
        raise LookupError("no `cities` table here: is this a guahao database at migration head?")
    specs.sort(key=lambda s: s.name != CITY_TABLE)  # stable: the city first, the rest in load order
    return CitySchema(metadata, specs)
