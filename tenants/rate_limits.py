"""The request limits against scalpers (号贩子, R4.4): their names, defaults and how
``GUAHAO_RATE_LIMITS`` overrides them. ``core.ratelimit`` counts them.

A rule's name says what it counts and per what: ``register_ip`` counts registrations per client
address; the suffix is the scope (``ip``, ``member``, ``phone``, ``device``, where a kiosk
terminal is a device). A value is one or more windows in the notation of the ``limits``
package separated by ``;`` (``5/hour;20/day``): every window must have room.

The defaults are far above what one person does (a family registering two or three members,
a member searching a doctor's fortnight, booking and cancelling) and far below a script's pace.
"""

from __future__ import annotations

from limits import parse_many

DEFAULT_RATE_LIMITS: dict[str, str] = {
    "register_ip": "5/hour;20/day",  # new accounts from one address
    "register_device": "3/hour;10/day",  # new accounts from one browser (the site's device cookie)
    "login_ip": "30/minute;300/hour",  # log-in attempts from one address (a hospital's Wi-Fi shares one)
    "sms_phone": "1/minute;5/hour;10/day",  # log-in codes sent to one phone
    "sms_ip": "10/hour;30/day",  # log-in codes asked for from one address, to any phones
    "search_ip": "120/minute",  # catalogue searches and availability from one address
    "book_member": "10/minute;60/day",  # bookings by one member
    "book_ip": "30/10minutes",  # bookings from one address
    "book_device": "60/10minutes",  # bookings at one kiosk terminal (many patients queue at it)
    "sms_device": "60/hour",  # log-in codes asked for at one kiosk terminal
}
SCOPES = ("ip", "member", "phone", "device")


class RateLimitError(ValueError):
    """A rule name or value that cannot be used; the message names it."""


def scope_of(name: str) -> str:
    """The scope a rule counts per: the last part of its name."""
    return name.rsplit("_", 1)[-1]


def check_rate_limits(limits: dict[str, str]) -> dict[str, str]:
    """``limits`` when every name is a known rule and every value parses, else
    :class:`RateLimitError`."""
    for name, value in limits.items():
        if name not in DEFAULT_RATE_LIMITS:
            raise RateLimitError(f"unknown rate limit {name!r}; known: {', '.join(DEFAULT_RATE_LIMITS)}")
        try:
            if not parse_many(value):
                raise ValueError(value)
        except ValueError:
            raise RateLimitError(f"rate limit {name}={value!r} is not like 5/hour;20/day") from None
    return limits


def parse_rate_limits(text: str) -> dict[str, str]:
    """``GUAHAO_RATE_LIMITS``: ``name=windows`` pairs separated by commas or spaces,
    e.g. ``register_ip=3/hour;10/day, search_ip=60/minute``."""
    pairs: dict[str, str] = {}
    for part in text.replace(",", " ").split():
        name, sep, value = part.partition("=")
        if not sep:
            raise RateLimitError(f"rate limit {part!r} is not name=windows")
        pairs[name.strip()] = value.strip()
    return check_rate_limits(pairs)
