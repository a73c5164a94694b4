"""Money in licensing: integer fen everywhere, one rounding rule, one way to print yuan.

The rounding rule, stated once: an exact amount (a :class:`~decimal.Decimal` of fen, e.g. a
percentage of fees or a fee pro-rated by days) becomes whole fen by rounding **half up** — a
half rounds away from zero (``2.5 → 3``, ``-2.5 → -3``, so a credit note is exactly the
negative of its invoice). Each invoice line is rounded once, from its exact amount; VAT is
rounded once, from the sum of the rounded lines. Pro-rated allowances (units included per
month) are rounded to whole units by the same rule.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def round_fen(exact: Decimal | int) -> int:
    """Whole fen (or whole units) from an exact amount: half up, away from zero."""
    return int(Decimal(exact).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan(fen: int) -> str:
    """``123456`` → ``1,234.56`` (a minus sign for negatives)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def percent_text(value: Decimal | str) -> str:
    """``Decimal("8.50")`` → ``8.5%``."""
    return format(Decimal(str(value)).normalize(), "f") + "%"
