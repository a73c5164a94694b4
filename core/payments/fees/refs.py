"""Fee order references: ``FP`` and ten characters of the booking-reference alphabet, so an
order number reads and types like a booking's and is never mistaken for one (a booking
reference has a dash and no ``FP`` prefix)."""

from __future__ import annotations

import re
import secrets

from guahao.core.booking.refs import ALPHABET

PREFIX = "FP"
_FEE = re.compile(rf"^{PREFIX}[{ALPHABET}]{{10}}$")


def new_fee_ref() -> str:
    """A fresh random fee order reference, e.g. ``FP7K4MQ9XT2B``."""
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(10))


def is_fee_ref(value: object) -> bool:
    """Whether ``value`` has the shape of a fee order reference (a cheap check before a query)."""
    return isinstance(value, str) and bool(_FEE.match(value))
