"""Booking references: short enough to read out on the phone and type on a kiosk, unguessable.

A reference is ten characters in two groups of five, ``7K4MQ-9XT2B``, drawn with ``secrets``
from 30 characters that cannot be mistaken for one another when read aloud or handwritten:
the digits 2–9 and the capital letters but I, L, O and U (no 0/O or 1/I/L, no U taken for V). That is
49 random bits: knowing one booking's reference tells nothing about another's, and every
look-up by reference also needs the member's identity (their session, token or phone, or an
agent's identity check).

People type references loosely: ``7k4mq 9xt2b``, ``7K4MQ9XT2B`` and ``7K4MQ–9XT2B`` all find
the booking (:func:`normalise_ref`). References made before this format (``GH`` and 16
base32 characters) keep working.

A new reference that happens to equal an existing one (about one chance in 10⁷ per booking
even with a hundred million bookings stored) fails its insert as a whole, never mixing with the
other booking; the caller is told to try again (:class:`RefTaken`).
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUP = 5
_NEW = re.compile(rf"^[{ALPHABET}]{{{GROUP}}}-[{ALPHABET}]{{{GROUP}}}$")
_OLD = re.compile(r"^GH[A-Z2-7]{16}$")
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―_.·]")


class RefTaken(Exception):
    """A new booking's reference was already in use (the insert failed; nothing was written)."""


def new_booking_ref() -> str:
    """A fresh random booking reference, e.g. ``7K4MQ-9XT2B``."""
    chars = "".join(secrets.choice(ALPHABET) for _ in range(2 * GROUP))
    return f"{chars[:GROUP]}-{chars[GROUP:]}"


def normalise_ref(value: str) -> str:
    """The reference a person meant: upper-cased, spaces and dashes of any kind removed, then
    grouped as stored (``7k4mq 9xt2b`` → ``7K4MQ-9XT2B``); an old ``GH…`` reference as it is."""
    compact = _SEPARATORS.sub("", value.strip().upper())
    if len(compact) == 2 * GROUP and all(c in ALPHABET for c in compact):
        return f"{compact[:GROUP]}-{compact[GROUP:]}"
    return compact


def is_booking_ref(value: str) -> bool:
    """Whether ``value`` (normalised) has the shape of a reference: a cheap check before any query."""
    return bool(_NEW.match(value) or _OLD.match(value))
