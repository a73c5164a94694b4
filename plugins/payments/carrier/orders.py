"""Our order number of a booking at the carrier, and back.

``GH{city id}C{booking id without its dash}`` (``GH12C7K4MQ9XT2B``): derived from the city and
the booking alone, so a retried ``prepare`` names the same order and the carrier never charges
a booking twice; a refund's number is derived from the order and the amount, so a retried
refund job asks for the same refund.
"""

from __future__ import annotations

import re

_ORDER = re.compile(r"^GH(\d{1,10})C([A-Z0-9]{10,24})$")


def order_no(city_id: int, booking_id: str) -> str:
    return f"GH{city_id}C{booking_id.replace('-', '')}"


def booking_of(order: str, city_id: int) -> str:
    """The booking id an order number of this city names, or ``""``."""
    m = _ORDER.match(order or "")
    if not m or int(m.group(1)) != city_id:
        return ""
    compact = m.group(2)
    return f"{compact[:5]}-{compact[5:]}" if len(compact) == 10 else compact


def refund_no(order: str, amount_fen: int) -> str:
    return f"{order}R{amount_fen}"
