"""The operator console (``/console/…``): the staff web application.

``core.app`` mounts it through the entry-point group ``guahao.apps`` (core never imports the
console). Each area is a module exporting ``routes() -> list[BaseRoute]`` with paths relative
to ``/console``; adding an area is one line in ``AREAS``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

# Modules of operator_console, each with ``routes()``.
AREAS = [
    "auth",
    "account",
    "home",
    "staff",
    "settings",
    "audit",
    "vendor",
    "sso",
    "agent",
    "importing",
    "clinic",
    "referral",
    "catalogue",
    "hospital_plugins",
    "schedules",
    "schedule_changes",
    "schedule_templates",
    "hospital_complaints",
    "hospital_stats",
    "dashboards",
]


def console_routes() -> list[BaseRoute]:
    out: list[BaseRoute] = [Mount("/static", app=StaticFiles(directory=STATIC), name="console-static")]
    for area in AREAS:
        out += importlib.import_module(f"operator_console.{area}").routes()
    return out


def routes(rt) -> list[BaseRoute]:
    """The console under ``/console`` (entry point ``guahao.apps: console``)."""
    return [Mount("/console", routes=console_routes(), name="console")]
