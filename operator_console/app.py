"""The operator console (``/console/…``): the staff web application.

``core.app`` mounts it through the entry-point group ``guahao.apps`` (core never imports the
console). The modules are grouped by area in subpackages: ``kit`` (the console's own page
plumbing: session, principal and access, navigation, rendering), ``signin``, ``city``,
``hospital``, ``booking`` (staff booking for patients), ``reports``, ``licensing`` (usage,
contracts, invoices, licences) and ``vendor``. Each page
module exports ``routes() -> list[BaseRoute]`` with paths relative to ``/console``; adding one
is a line in ``AREAS``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"

# Page modules (below operator_console), each with ``routes()``. No two routes match the same
# request, so their order here is only for reading.
AREAS = [
    "signin.auth",
    "signin.account",
    "signin.sso",
    "city.home",
    "city.staff",
    "city.settings",
    "city.audit",
    "city.importing",
    "city.catalogue",
    "city.deliveries",
    "hospital.broadcasts",
    "city.scalpers",
    "city.his",
    "city.finance",
    "city.fee_orders",
    "city.api_clients",
    "hospital.plugins",
    "hospital.his_messages",
    "hospital.schedules",
    "hospital.schedule_changes",
    "hospital.schedule_templates",
    "hospital.complaints",
    "hospital.stats",
    "booking.agent",
    "booking.clinic",
    "booking.referral",
    "reports.dashboards",
    "licensing.usage",
    "licensing.city",
    "licensing.vendor",
    "vendor.platform",
]


def console_routes() -> list[BaseRoute]:
    out: list[BaseRoute] = [Mount("/static", app=StaticFiles(directory=STATIC), name="console-static")]
    for area in AREAS:
        out += importlib.import_module(f"guahao.operator_console.{area}").routes()
    return out


def routes(rt) -> list[BaseRoute]:
    """The console under ``/console`` (entry point ``guahao.apps: console``)."""
    return [Mount("/console", routes=console_routes(), name="console")]
