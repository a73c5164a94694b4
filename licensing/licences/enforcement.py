"""Whether a city may take new bookings under its licence (``guahao_booking_checks``)."""

from __future__ import annotations


async def booking_refusal(city, channel: str, rt):
    """``None`` while the city's licence allows new bookings, else the refusal to raise."""
    return None
