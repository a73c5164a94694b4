"""What the console needs of licences beyond :mod:`.service`: every city's status for the
vendor, and the renewal as the exact ``guahao licence sign`` command the vendor runs offline.

The console never signs: the vendor's private key stays with the vendor. Issuing or renewing
a licence in the console means showing the command for the city, prefilled with its current
licence's facts and a new period (:func:`renewal`, :func:`sign_command`), and then installing
the token the vendor pastes back (:func:`.service.install_licence`).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace
from datetime import date, timedelta

from sqlalchemy import select

from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, platform_scope
from guahao.tenants.models import City
from guahao.tenants.resolver import city_context

from .document import DEFAULT_GRACE_DAYS, MODELS
from .service import licence_status
from .states import local_today

KEY_PATH = "~/guahao-vendor-keys/licence-signing.private.pem"
"""Where ``guahao licence keygen --out ~/guahao-vendor-keys`` put the vendor's private key."""


@dataclass(frozen=True)
class Renewal:
    """The facts of a licence to sign for a city (what ``guahao licence sign`` takes)."""

    city: str
    operator: str
    model: str
    valid_from: date
    valid_until: date
    grace_days: int = DEFAULT_GRACE_DAYS
    max_hospitals: int | None = None
    max_bookings_per_month: int | None = None
    channels: tuple[str, ...] | None = None
    key_path: str = KEY_PATH

    @property
    def out_file(self) -> str:
        return f"{self.city}-{self.valid_until:%Y%m%d}.licence"


def a_year_from(day: date) -> date:
    """The last day of a year that begins on ``day`` (``2027-01-01`` → ``2027-12-31``)."""
    try:
        return day.replace(year=day.year + 1) - timedelta(days=1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def renewal(status: dict, city: CityContext, *, today: date | None = None, model: str | None = None,
            operator: str | None = None) -> Renewal:
    """The next licence of a city, from its status (:func:`.service.licence_status`): the same
    operator, model, grace and limits as the licence that counts now, valid for a year from
    the day after it ends (or from today when it has ended or there is none). ``model`` and
    ``operator`` fill in what a city without a licence lacks (its contract, its name)."""
    today = today or local_today(utcnow(), city.tz)
    limits = status.get("limits") or {}
    until = date.fromisoformat(status["valid_until"]) if status.get("valid_until") else None
    start = until + timedelta(days=1) if until is not None and until >= today else today
    chosen = status.get("model") or model or "rental"
    channels = limits.get("channels")
    return Renewal(
        city=city.slug, operator=status.get("operator") or operator or city.name,
        model=chosen if chosen in MODELS else "rental", valid_from=start, valid_until=a_year_from(start),
        grace_days=status["grace_days"] if status.get("grace_days") is not None else DEFAULT_GRACE_DAYS,
        max_hospitals=limits.get("max_hospitals"), max_bookings_per_month=limits.get("max_bookings_per_month"),
        channels=tuple(channels) if channels is not None else None,
    )


def adjusted(base: Renewal, **changes) -> Renewal:
    """``base`` with some facts changed (the vendor's edits of the prefilled command)."""
    return replace(base, **{k: v for k, v in changes.items() if k in Renewal.__dataclass_fields__})


def sign_command(r: Renewal) -> str:
    """The ``guahao licence sign`` command that signs ``r`` (one line, shell-quoted)."""
    parts = ["guahao", "licence", "sign", "--key", r.key_path, "--city", r.city, "--operator", r.operator,
             "--model", r.model, "--from", r.valid_from.isoformat(), "--until", r.valid_until.isoformat(),
             "--grace-days", str(r.grace_days)]
    if r.max_hospitals is not None:
        parts += ["--max-hospitals", str(r.max_hospitals)]
    if r.max_bookings_per_month is not None:
        parts += ["--max-bookings-per-month", str(r.max_bookings_per_month)]
    if r.channels is not None:
        parts += ["--channels", ",".join(r.channels)]
    parts += ["--out", r.out_file]
    # The key's path keeps its ~ so the vendor's shell expands it.
    return " ".join(p if p == r.key_path else shlex.quote(p) for p in parts)


async def active_cities(rt) -> list[CityContext]:
    """Every active city, by slug."""
    with platform_scope("vendor: licences of every city"):
        async with rt.db.transaction() as s:
            rows = (await s.scalars(select(City).where(City.active.is_(True)).order_by(City.slug))).all()
    return [city_context(row) for row in rows]


async def every_city_status(rt) -> list[tuple[CityContext, dict]]:
    """Each active city with its licence status (usage and overage included)."""
    return [(city, await licence_status(rt, city)) for city in await active_cities(rt)]
