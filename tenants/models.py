"""Tenant tables: the city itself, its host names, districts and enabled plugins.

Every tenant-owned table (here and in ``core``) derives from :class:`TenantModel`, which
gives it a ``city_id`` and puts it under both isolation walls (see ``tenants.scoping`` and
``tenants.rls``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, Integer, UniqueConstraint, event
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel

from .clock import utcnow

WIDE_ID = BigInteger().with_variant(Integer(), "sqlite")
"""The type of every id column of a tenant table: 64-bit on PostgreSQL, where each database
cell hands out ids from a range of its own (``core.cells``); SQLite's INTEGER is 64-bit
already (and must stay INTEGER for its row ids)."""


class TenantModel(SQLModel):
    """Mixin for tables owned by one city. ``city_id`` is filled from the current city."""

    # Stamped from the current city when the row is added (``tenants.db``); never passed by hand.
    city_id: int = Field(default=None, foreign_key="cities.id", index=True, nullable=False)



@event.listens_for(Mapper, "before_mapper_configured")
def _wide_ids(mapper, class_) -> None:
    """A tenant table's ``id`` and ``…_id`` integer columns (not ``city_id``) are 64-bit."""
    if not issubclass(class_, TenantModel):
        return
    for column in mapper.local_table.columns:
        if (column.name == "id" or column.name.endswith("_id")) and column.name != "city_id" \
                and type(column.type) is Integer:
            column.type = WIDE_ID


def tenant_tables() -> list[str]:
    """Names of every tenant-owned table (used by RLS migrations and isolation tests)."""
    return sorted(
        str(m.class_.__tablename__)
        for m in SQLModel._sa_registry.mappers
        if issubclass(m.class_, TenantModel)
    )


class City(SQLModel, table=True):
    """A tenant: one city platform run by one licensed operator."""

    __tablename__ = "cities"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(index=True, unique=True, max_length=40)
    name: str = Field(max_length=100)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    rules: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    branding: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    active: bool = True
    config_version: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    cell: str = Field(default="", max_length=40)
    """Directory entry (in the platform database): the cell that holds the city's rows; empty
    for the platform database itself."""
    cell_state: str = Field(default="", max_length=10)
    """This database's copy of the city: ``""`` live, ``frozen`` (being copied to another cell:
    reads only), ``moved`` (another cell holds it now: neither)."""


class Cell(SQLModel, table=True):
    """A database cell: a PostgreSQL cluster (behind its pgbouncer) holding whole cities
    (R15.5). The platform database is the unnamed cell every city starts on."""

    __tablename__ = "cells"

    name: str = Field(primary_key=True, max_length=40)
    ordinal: int = Field(unique=True)
    """1, 2, …: the cell's id range is ``[ordinal·2⁴⁸, (ordinal+1)·2⁴⁸)`` (the platform
    database's is below 2⁴⁸), so rows keep their ids when a city moves (``core.cells``)."""
    url: str = Field(max_length=2000)
    """The owner connection, sealed with the data key (``tenants.crypto``)."""
    created_at: datetime = Field(default_factory=utcnow)


class CityHost(SQLModel, table=True):
    """A host name that belongs to a city (``guahao.example-city.cn``)."""

    __tablename__ = "city_hosts"

    host: str = Field(primary_key=True, max_length=255)
    city_id: int = Field(foreign_key="cities.id", index=True)


class District(TenantModel, table=True):
    """An administrative district (区/县) of the city; bureaus may be scoped to some."""

    __tablename__ = "districts"
    __table_args__ = (UniqueConstraint("city_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20)
    name: str = Field(max_length=100)


class CityPlugin(TenantModel, table=True):
    """A plugin enabled for a city, with its settings; secrets are stored encrypted."""

    __tablename__ = "city_plugins"
    __table_args__ = (UniqueConstraint("city_id", "plugin"),)

    id: int | None = Field(default=None, primary_key=True)
    plugin: str = Field(max_length=80)
    enabled: bool = True
    settings: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    secrets_encrypted: str = Field(default="", max_length=8000)
    updated_at: datetime = Field(default_factory=utcnow)
