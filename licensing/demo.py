"""Licensing's part of the demo city: a demo licence, a contract and some usage history."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from guahao.core.audit import Actor
from guahao.tenants.clock import utcnow

log = logging.getLogger("guahao.licensing")

DEMO_OPERATOR = "示例市卫生健康委员会"
DEMO_ACTOR = Actor("system", name="guahao demo", role="demo")


async def seed_demo(rt, city) -> None:
    """Fill the demo city's licensing data (``guahao_demo_seed``): a licence, a revenue-share
    contract since the start of last year, and the ledger rows of the demo's history."""
    from .backfill import backfill
    from .contracts.demo import seed_demo_contract

    await seed_demo_licence(rt, city)
    today = utcnow().astimezone(city.tz).date()
    await seed_demo_contract(rt, city, actor=DEMO_ACTOR, since=date(today.year - 1, 1, 1))
    done = await backfill(rt, city)
    log.info("demo city %s: %s usage rows counted from its history", city.slug, done.total)


def a_year_on(day: date) -> date:
    """The same day a year later (28 February for 29 February)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


async def seed_demo_licence(rt, city) -> str | None:
    """Install a demo licence valid for a year from today, signed by the demo key
    (``licensing/demo_keys``). Only the embedded demo trusts that key: in production nothing
    is installed (the city is then unlicensed, or restricted when a licence is required).
    Returns the licence id installed."""
    from .licences.document import LicenceDocument, Limits
    from .licences.keys import demo_private_pem
    from .licences.service import install_licence
    from .licences.signing import sign
    from .licences.states import local_today

    if rt.settings.production:
        log.warning("demo city %s: no demo licence in production (the demo key is not trusted there)", city.slug)
        return None
    today = local_today(utcnow(), city.tz)
    document = LicenceDocument(
        city=city.slug, valid_from=today, valid_until=a_year_on(today) - timedelta(days=1), operator=DEMO_OPERATOR,
        model="revenue_share", limits=Limits(max_hospitals=20, max_bookings_per_month=100_000), grace_days=30,
    )
    outcome = await install_licence(rt, city, sign(document, demo_private_pem()), actor=DEMO_ACTOR)
    return outcome.licence.document.licence_id
