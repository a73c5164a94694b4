"""What a licence allows today: one pure function of the licence and the moment, in the city's
local calendar.

With ``today`` the city's local date at ``now``, and a licence valid from ``valid_from`` to
``valid_until`` (both days included) with ``grace_days`` of grace:

================  =====================================================  ==================
state             when                                                   new bookings
================  =====================================================  ==================
``not_yet_valid`` today < valid_from                                     refused
``valid``         valid_from ≤ today < valid_until − 30 days              taken
``expiring``      valid_until − 30 days ≤ today ≤ valid_until            taken (staff warned)
``grace``         valid_until < today ≤ valid_until + grace_days         taken (staff banner)
``restricted``    today > valid_until + grace_days                       refused
``unlicensed``    no licence, ``settings.licence_required`` off          taken (console says so)
``restricted``    no licence, ``settings.licence_required`` on           refused
================  =====================================================  ==================

``days_left`` counts the licence's remaining days including today (1 on its last day), and
``grace_days_left`` the remaining days of grace including today (1 on the last day of grace).
"Refused" means every new booking on every channel; what exists (bookings, cancellation,
check-in, refunds, exports, the console) keeps working and nothing is deleted or hidden.

Several licences installed: the newest one whose first day has come counts; when none has
begun, the newest one (and the city is ``not_yet_valid`` until it does). A vendor can so
install a renewal before the current licence ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from .document import LicenceDocument

EXPIRING_DAYS = 30
"""Staff are warned from this many days before the last valid day (``valid_until``)."""

VALID, EXPIRING, GRACE, RESTRICTED, UNLICENSED, NOT_YET_VALID = (
    "valid", "expiring", "grace", "restricted", "unlicensed", "not_yet_valid")
STATES = (VALID, EXPIRING, GRACE, RESTRICTED, UNLICENSED, NOT_YET_VALID)
BOOKING_STATES = frozenset({VALID, EXPIRING, GRACE, UNLICENSED})
"""The states in which new bookings are taken."""


@dataclass(frozen=True)
class LicenceState:
    """The state of a city's licence on ``today`` (see the module docstring).

    ``reason`` tells a restriction apart: ``expired`` (grace over), ``not_yet_valid`` or
    ``no_licence``; empty otherwise.
    """

    state: str
    today: date
    days_left: int | None = None
    grace_days_left: int | None = None
    reason: str = ""

    @property
    def bookings_allowed(self) -> bool:
        return self.state in BOOKING_STATES


def local_today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


def state_on(document: LicenceDocument | None, today: date, *, required: bool) -> LicenceState:
    """The state of ``document`` (``None``: the city has none) on the local date ``today``."""
    if document is None:
        return LicenceState(RESTRICTED, today, reason="no_licence") if required else LicenceState(UNLICENSED, today)
    if today < document.valid_from:
        return LicenceState(NOT_YET_VALID, today, days_left=None, reason="not_yet_valid")
    if today <= document.valid_until:
        days_left = (document.valid_until - today).days + 1
        state = EXPIRING if today >= expiring_from(document) else VALID
        return LicenceState(state, today, days_left=days_left)
    if today <= document.grace_until:
        return LicenceState(GRACE, today, days_left=0, grace_days_left=(document.grace_until - today).days + 1)
    return LicenceState(RESTRICTED, today, days_left=0, grace_days_left=0, reason="expired")


def licence_state(document: LicenceDocument | None, now: datetime, tz: ZoneInfo, *, required: bool) -> LicenceState:
    """The state of ``document`` at the moment ``now``, in the city's time zone ``tz``."""
    return state_on(document, local_today(now, tz), required=required)


def counting(documents: Sequence[LicenceDocument], today: date) -> LicenceDocument | None:
    """Of the installed, unrevoked licences (newest first), the one that counts on ``today``."""
    for document in documents:
        if document.valid_from <= today:
            return document
    return documents[0] if documents else None


def expiring_from(document: LicenceDocument) -> date:
    """The first day staff are warned that ``document`` ends."""
    return document.valid_until - timedelta(days=EXPIRING_DAYS)
