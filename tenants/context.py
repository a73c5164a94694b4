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
