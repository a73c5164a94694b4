"""The current city of a request or job, held in a context variable.

The city is resolved once (from the path or the host name) and never from a request body.
Code that must read across cities says so with :func:`platform_scope`, which is easy to grep
and is logged.
"""

from __future__ import annotations

import contextlib
import logging
import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Iterator
from zoneinfo import ZoneInfo

from .rules import CityRules

log = logging.getLogger("guahao.tenancy")


@dataclass(frozen=True)
class CityContext:
    """What the rest of the code needs to know about the current city."""

    id: int
    slug: str
    name: str
    timezone: str
    rules: CityRules
    config_version: int = 0
    branding: dict = field(default_factory=dict, hash=False, compare=False)
    cell: str = ""
    """The database cell holding the city's rows (``tenants.cells``); empty: the platform's own."""

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def display_name(self) -> str:
        """The name the operator chose for the patient site, else the city's own."""
        return str(self.branding.get("display_name") or "") or self.name

    @property
    def theme(self) -> dict[str, str]:
        """CSS custom properties from the branding colours (only well-formed ``#rrggbb``)."""
        names = {"primary_colour": "--accent", "accent_colour": "--brand-line"}
        return {
            var: value for key, var in names.items()
            if isinstance(value := self.branding.get(key), str) and _COLOUR.fullmatch(value)
        }


_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_current_city: ContextVar[CityContext | None] = ContextVar("guahao_city", default=None)
_platform: ContextVar[str | None] = ContextVar("guahao_platform_scope", default=None)
_cell: ContextVar[str | None] = ContextVar("guahao_cell", default=None)


def current_city() -> CityContext | None:
    return _current_city.get()


def require_city() -> CityContext:
    city = _current_city.get()
    if city is None:
        raise LookupError("no current city: tenant data needs a city context")
    return city


@contextlib.contextmanager
def use_city(city: CityContext) -> Iterator[CityContext]:
    """Run a block as ``city`` (jobs, CLI commands, tests)."""
    token = _current_city.set(city)
    try:
        yield city
    finally:
        _current_city.reset(token)


def set_city(city: CityContext | None):
    """Set the city for the rest of the current context; returns a reset token."""
    return _current_city.set(city)


def reset_city(token) -> None:
    _current_city.reset(token)


@contextlib.contextmanager
def platform_scope(reason: str) -> Iterator[None]:
    """Explicit bypass of tenant scoping for cross-city work (relay, invoicing, metrics).

    Both walls are lifted only inside this block: the ORM stops adding ``city_id`` filters,
    and on PostgreSQL a transaction begun here runs on the platform login (BYPASSRLS), a
    connection pool of its own that the application's login cannot switch to (``tenants.db``).
    """
    log.debug("platform scope entered: %s", reason)
    token = _platform.set(reason)
    try:
        yield
    finally:
        _platform.reset(token)


def platform_reason() -> str | None:
    return _platform.get()


@contextlib.contextmanager
def use_cell(name: str) -> Iterator[str]:
    """Run a block's transactions on the database cell ``name`` (``""``: the platform's own),
    whatever the current city: cross-city work that visits each cell in turn (the outbox
    relay, the vendor's totals) and the copy of a city between cells."""
    token = _cell.set(name)
    try:
        yield name
    finally:
        _cell.reset(token)


def current_cell() -> str:
    """The cell a transaction begun now runs on: the one :func:`use_cell` names, else the
    current city's, else the platform's own (``""``)."""
    named = _cell.get()
    if named is not None:
        return named
    city = _current_city.get()
    return city.cell if city is not None else ""
