"""Shared pieces of the ``guahao`` commands: the user-error type, settings, small parsers."""

from __future__ import annotations

import argparse
import asyncio
import json
import unicodedata
from typing import Any, Callable

from guahao.tenants.settings import Settings


class CliError(Exception):
    """A mistake the user can fix: printed as one line, exit code 1."""


def settings_from_env() -> Settings:
    return Settings.from_env()


def serving_settings() -> Settings:
    """The environment's settings for a process that serves (web, worker): keys unfit for
    production raise ``InsecureKeys``, a one-line error before anything starts."""
    settings = settings_from_env()
    settings.require_keys()
    return settings


def run(coro_fn: Callable[..., Any], *args) -> Any:
    """Run an async command with a runtime of its own, closed afterwards."""

    async def runner():
        from guahao.core.runtime import Runtime

        rt = Runtime(settings_from_env())
        try:
            await rt.load_cells()  # cities on other database cells are reached there
            return await coro_fn(rt, *args)
        finally:
            await rt.stop()

    return asyncio.run(runner())


async def find_city(rt, slug: str):
    from guahao.tenants.service import get_city

    city = await get_city(rt.db, slug)
    if city is None:
        raise CliError(f"no city {slug!r}; see `guahao city list`")
    return city


def pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"{what} {item!r} is not key=value")
        out[key.strip()] = value.strip()
    return out


def json_or_text(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def pad(text: str, width: int) -> str:
    """Left-align in a terminal where CJK characters take two columns."""
    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(1, width - used)


def port_from(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 8000


def add_command(subs, name: str, help: str, func, epilog: str) -> argparse.ArgumentParser:
    """A sub-command whose one-line help doubles as its description, with examples below."""
    p = subs.add_parser(
        name, help=help, description=help, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.set_defaults(func=func)
    return p
