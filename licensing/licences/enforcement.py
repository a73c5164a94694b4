"""Whether a city may take new bookings under its licence (``guahao_booking_checks``).

Core asks every booking (API, patient site, kiosk, call-centre agent, referral desk) through
the hook; a restricted city answers with one refusal: HTTP 403, code ``licence_restricted``,
a Chinese sentence and ``details["message_en"]``. Everything else — existing bookings,
cancellation, check-in, refunds, exports, the console — never asks and keeps working.
The answer comes from the process's cache (:mod:`.cache`): no database query per booking.
"""

from __future__ import annotations

from guahao.core.errors import Forbidden
from guahao.tenants.clock import utcnow

from .cache import city_licences
from .states import LicenceState

CODE = "licence_restricted"
WHAT_STILL_WORKS = "已有预约、取消、退款和就诊不受影响。请通过其他方式联系医院。"
WHAT_STILL_WORKS_EN = ("Existing bookings, cancellations, refunds and visits are not affected. "
                       "Please contact the hospital another way.")
_WHY = {
    "expired": ("本市预约服务授权已到期，暂停受理新的预约；",
                "This city's booking service licence has expired and no new bookings are being taken. "),
    "not_yet_valid": ("本市预约服务授权尚未生效，暂停受理新的预约；",
                      "This city's booking service licence is not yet in force and no new bookings are being taken. "),
    "no_licence": ("本市预约服务尚未获得有效授权，暂停受理新的预约；",
                   "This city's booking service has no valid licence and no new bookings are being taken. "),
}


def restricted_error(state: LicenceState) -> Forbidden:
    """The refusal of a new booking in a city whose licence does not allow one."""
    zh, en = _WHY.get(state.reason, _WHY["expired"])
    return Forbidden(CODE, zh + WHAT_STILL_WORKS, details={
        "message_en": en + WHAT_STILL_WORKS_EN, "state": state.state, "reason": state.reason,
    })


async def booking_refusal(city, channel: str, rt):
    """``None`` while the city's licence allows new bookings, else the refusal to raise."""
    state, _ = (await city_licences(rt, city)).state(utcnow(), city)
    if state.bookings_allowed:
        return None
    return restricted_error(state)
