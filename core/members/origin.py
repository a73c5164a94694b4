"""Where a self-registration came from, kept for the console's scalper view (R4.4).

Neither the client address nor the device id is stored in the clear: each is a keyed hash
(HMAC with the data key, so equal values group together and nothing can be looked up without
the key), and the address is also kept masked for people to read (``203.0.113.x``,
``2001:db8:85a3:x``).
"""

from __future__ import annotations

import ipaddress

from guahao.tenants.crypto import cipher

HASH_LENGTH = 32


def origin_hash(kind: str, value: str) -> str | None:
    """The keyed hash of an address (``kind="ip"``) or device id (``"device"``); ``None`` for ""."""
    if not value:
        return None
    return cipher().lookup_hash(f"registration-{kind}\x00{value}")[:HASH_LENGTH]


def mask_ip(ip: str) -> str:
    """The address with its last part hidden: ``203.0.113.x``; IPv6 keeps its first three groups."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if address.version == 4:
        return ".".join(str(address).split(".")[:3]) + ".x"
    return ":".join(address.exploded.split(":")[:3]) + ":x"
