"""Booking references: unguessable, short enough to read out on the phone.

A reference is ``GH`` followed by 16 characters of RFC 4648 base32 (A–Z, 2–7) drawn from
``secrets``: 80 random bits, so knowing one booking's reference tells nothing about another's.
"""

from __future__ import annotations

import base64
import re
import secrets

PREFIX = "GH"
_RANDOM_BYTES = 10  # 80 bits → exactly 16 base32 characters, no padding
_PATTERN = re.compile(rf"^{PREFIX}[A-Z2-7]{{16}}$")


def new_booking_ref() -> str:
    """A fresh random booking reference, e.g. ``GHK5QX2M7RB4TZAW3C``."""
    return PREFIX + base64.b32encode(secrets.token_bytes(_RANDOM_BYTES)).decode("ascii")


def normalise_ref(value: str) -> str:
    """Upper-case and strip a reference typed by a person (SMS, IVR, agents)."""
    return value.strip().upper()


def is_booking_ref(value: str) -> bool:
    """Whether ``value`` has the shape of a reference (cheap check before any query)."""
    return bool(_PATTERN.match(value))
