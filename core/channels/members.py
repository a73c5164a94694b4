"""The member behind a caller's phone number, whether a name given in a message is theirs, and
their choice of non-essential messages."""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import select

from guahao.core.members.service import MIDDLE_DOTS, normalize_phone, update_contacts
from guahao.core.members.throttle import MemoryLoginThrottle, for_runtime
from guahao.core.models import Member
from guahao.tenants.context import require_city
from guahao.tenants.crypto import cipher

PIN_DIGITS = 6
_PIN_CHECKS: WeakKeyDictionary = WeakKeyDictionary()  # runtime → its in-process PIN throttle


@dataclass(frozen=True)
class ChannelMember:
    """What a channel knows of a registered real-name member: id, name, mobile number and the
    end of a credit suspension (``None`` when not suspended)."""

    id: int
    name: str
    phone: str
    suspended_until: datetime | None = None


def mainland_mobile(value: str) -> str | None:
    """The 11-digit mainland number of ``value`` as ``core.members`` stores it (``+86``, ``86``
    or ``0086`` in front, spaces and hyphens tolerated); ``None`` when it is not one."""
    digits = re.sub(r"[\s\-]", "", value or "")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return normalize_phone(digits)


async def member_by_phone(rt, phone: str) -> ChannelMember | None:
    """The current city's member registered with this mobile number, or ``None``."""
    mobile = mainland_mobile(phone)
    if mobile is None:
        return None
    async with rt.db.transaction() as s:
        row = (await s.execute(
            select(Member.id, Member.name, Member.phone, Member.suspended_until).where(Member.phone == mobile)
        )).first()
    return ChannelMember(row.id, row.name, row.phone, row.suspended_until) if row is not None else None


def _clean(name: str) -> str:
    return re.sub(r"\s+", "", (name or "").translate(MIDDLE_DOTS)).casefold()


def name_matches(member: ChannelMember, name: str) -> bool:
    """Whether ``name`` (as typed: spaces, any middle dot, any case) is the member's real name."""
    return bool(name) and _clean(name) == _clean(member.name)


async def set_opt_out(rt, member_id: int, opted_out: bool) -> None:
    """Stop (``True``) or resume the member's non-essential messages (R9.3), as their profile
    page does; messages about their bookings are sent either way."""
    async with rt.db.transaction() as s:
        await update_contacts(s, member_id, notifications_opt_out=opted_out)


def keypad_pin(id_number: str) -> str:
    """The keypad PIN of an ID number: its last six characters, a final ``X`` typed as ``0``."""
    return id_number.strip().upper()[-PIN_DIGITS:].replace("X", "0")


async def check_pin(rt, member_id: int, digits: str) -> bool:
    """Whether ``digits`` (typed on a phone keypad) are the member's PIN: the last six
    characters of their ID number, ``X`` typed as ``0`` (:func:`keypad_pin`). The number is
    read from the member's encrypted record and compared in constant time; it is never
    returned or logged.

    Failures are counted per member across calls and processes (the log-in throttle, through
    Redis when there is one): while too many recent failures lock the member's PIN, this
    raises ``too_many_attempts`` (429) without checking."""
    throttle = for_runtime(rt, _PIN_CHECKS.setdefault(rt, MemoryLoginThrottle()))
    city_id, key = require_city().id, f"keypad-pin:{member_id}"
    await throttle.check(city_id, key)
    encrypted = None
    if isinstance(digits, str) and len(digits) == PIN_DIGITS and digits.isdigit():
        async with rt.db.transaction() as s:
            encrypted = await s.scalar(select(Member.id_number_encrypted).where(Member.id == member_id))
    passed = bool(encrypted) and hmac.compare_digest(keypad_pin(cipher().decrypt(encrypted or "")), digits)
    await (throttle.succeeded if passed else throttle.failed)(city_id, key)
    return passed
