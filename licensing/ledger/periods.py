"""Billing periods: a city's local calendar month (``2026-11``), as UTC bounds."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodInvalid(ValueError):
    """A period that is not ``YYYY-MM``."""


def parse_month(text: str) -> date:
    """``2026-11`` → the first day of that month."""
    m = _MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise PeriodInvalid(f"period {text!r} is not a month such as 2026-11")
    return date(int(m.group(1)), int(m.group(2)), 1)


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def month_bounds(tz, first: date) -> tuple[datetime, datetime]:
    """UTC ``[start, end)`` of the month beginning ``first`` in the time zone ``tz``."""
    start = datetime.combine(first, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(next_month(first), datetime.min.time(), tzinfo=tz).astimezone(UTC)
    return start, end


def month_of(tz, at: datetime) -> str:
    """The ``YYYY-MM`` a moment falls in, in the time zone ``tz``."""
    return at.astimezone(tz).strftime("%Y-%m")
