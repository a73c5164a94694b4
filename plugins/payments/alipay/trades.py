"""Alipay's ``out_trade_no`` of a booking, and back.

Derived from the city and the booking alone (``GH12_7K4MQ9XT2B``: letters, digits and an
underscore, as Alipay allows), so every retry of a payment names the same trade and Alipay
never takes a booking's fee twice; the city id in it keeps two cities sharing one merchant
account apart.
"""

from __future__ import annotations

import re

_TRADE = re.compile(r"^GH(\d{1,10})_([A-Z0-9]{10,24})$")


def out_trade_no(city_id: int, booking_id: str) -> str:
    return f"GH{city_id}_{booking_id.replace('-', '')}"


def booking_of(trade: str, city_id: int) -> str:
    """The booking id an ``out_trade_no`` of this city names, or ``""``."""
    m = _TRADE.match(trade or "")
    if not m or int(m.group(1)) != city_id:
        return ""
    compact = m.group(2)
    if len(compact) == 10 and not compact.startswith("GH"):
        return f"{compact[:5]}-{compact[5:]}"
    return compact


def refund_request_no(trade: str, amount_fen: int) -> str:
    """``out_request_no`` of a refund: the same amount asked again is the same refund."""
    return f"{trade}_R{amount_fen}"
