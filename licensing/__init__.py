"""Licensing (R14): the usage ledger, contracts, invoices and signed licence keys.

A built-in plugin that every city has (``META.always_enabled``): it hears core's domain events
through hooks and never is called by core directly.

- :mod:`.ledger` — the append-only, hash-chained usage ledger per city, fed from booking,
  member and notification events and from usage plugins report; verify and export.
- :mod:`.contracts` — versioned contracts per city (revenue share, rental, profit share) and
  the pricing that turns a period's usage into amounts.
- :mod:`.invoices` — invoice runs, gap-free numbering, documents (HTML, PDF), Stripe push.
- :mod:`.licences` — Ed25519-signed licences, their states and the booking restriction.
- :mod:`.cli` — ``guahao usage|contract|invoice|licence`` (entry-point group ``guahao.commands``).
"""

from __future__ import annotations

from guahao.plugin_api import hookimpl

from . import contracts, invoices  # noqa: F401  (their tables join the metadata for migrations)
from .ledger import models as _ledger_tables  # noqa: F401
from .licences import models as _licence_tables  # noqa: F401
from .meta import META  # noqa: F401  (the plugin's declaration)


@hookimpl
async def guahao_booking_event(city, event, rt):
    from .ledger.metering import meter_booking_event

    await meter_booking_event(city, event, rt)


@hookimpl
async def guahao_notification_sent(city, notification, rt):
    from .ledger.metering import meter_notification

    await meter_notification(city, notification, rt)


@hookimpl
async def guahao_member_event(city, event, rt):
    from .ledger.metering import meter_member_event

    await meter_member_event(city, event, rt)


@hookimpl
async def guahao_usage_reported(city, usage, rt):
    from .ledger.metering import meter_reported

    await meter_reported(city, usage, rt)


@hookimpl
async def guahao_booking_checks(city, channel, rt):
    from .licences.enforcement import booking_refusal

    return await booking_refusal(city, channel, rt)


@hookimpl
async def guahao_demo_seed(rt, city):
    from .demo import seed_demo

    await seed_demo(rt, city)
