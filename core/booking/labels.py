"""What people read for the booking domain's codes: booking statuses, cancel reasons, pools and
the engine's refusals, in zh-CN and English, worded for their reader.

The codes stay what machines read (API fields, stored columns, event data); every surface a
person reads (notifications, the patient site, the console, audit summaries) states them with
these labels. Two readers: ``patient`` (the member, addressed as 您) and ``staff`` (agents,
hospital staff and administrators, who read about the patient). A code without a label reads
as a neutral phrase, never as the code itself.

    reason_label("member")                               -> "您本人取消"
    reason_label("member", reader="staff")               -> "患者本人取消"
    reason_label("session_suspended", lang="en")         -> "The hospital suspended the session"
    status_label("offered", reader="staff")              -> "候补号源待患者确认"
    pool_label("onsite")                                 -> "现场号源"
    refusal_text("too_many_active", {"active": 3, "limit": 3}, reader="staff") -> "该患者已有 3 个有效预约…"
"""

from __future__ import annotations

import re
from typing import Mapping

LANGS = ("zh-CN", "en")
READERS = ("patient", "staff")

# A label per language; a dict keyed by reader where patient and staff wording differ.
Label = Mapping[str, "str | Mapping[str, str]"]

STATUS: dict[str, Label] = {
    "pending_payment": {"zh-CN": "待支付", "en": "Awaiting payment"},
    "confirmed": {"zh-CN": "已预约", "en": "Confirmed"},
    "offered": {
        "zh-CN": {"patient": "候补号源待您确认", "staff": "候补号源待患者确认"},
        "en": {"patient": "Waitlist slot awaiting your reply", "staff": "Offered from waitlist"},
    },
    "checked_in": {"zh-CN": "已签到", "en": "Checked in"},
    "no_show": {"zh-CN": "爽约", "en": "No-show"},
    "cancelled": {"zh-CN": "已取消", "en": "Cancelled"},
    "expired": {"zh-CN": "已失效", "en": "Expired"},
}

# A waitlist place (``WaitlistStatus``).
WAITLIST: dict[str, Label] = {
    "waiting": {"zh-CN": "候补中", "en": "Waiting"},
    "offered": {"zh-CN": "已递补，待确认", "en": "Offered a slot"},
    "accepted": {"zh-CN": "已确认", "en": "Accepted"},
    "expired": {"zh-CN": "已过期", "en": "Expired"},
    "cancelled": {"zh-CN": "已取消", "en": "Cancelled"},
}

POOL: dict[str, Label] = {
    "public": {"zh-CN": "公开号源", "en": "Public"},
    "onsite": {"zh-CN": "现场号源", "en": "On site"},
    "clinic": {"zh-CN": "诊间号源", "en": "In clinic"},
    "referral": {"zh-CN": "社区转诊号源", "en": "Referral"},
}

# Why a booking was cancelled (``Booking.cancel_reason``) when the platform, not a person,
# wrote the reason; a person's own words (an API client's reason, an agent's note) are shown as
# written.
REASON: dict[str, Label] = {
    "member": {
        "zh-CN": {"patient": "您本人取消", "staff": "患者本人取消"},
        "en": {"patient": "You cancelled it", "staff": "Cancelled by the patient"},
    },
    "session_suspended": {
        "zh-CN": "医院停诊",
        "en": {"patient": "The hospital suspended the session", "staff": "Session suspended by the hospital"},
    },
    "session_moved": {
        "zh-CN": {"patient": "医院调整出诊，新时段已无号源", "staff": "医院调班，新时段无号源"},
        "en": {"patient": "The hospital moved the session and the new time was full",
               "staff": "Session moved by the hospital; no room at the new time"},
    },
    "phone_cancel": {
        "zh-CN": {"patient": "您致电客服取消", "staff": "患者来电取消"},
        "en": {"patient": "Cancelled at your request by phone", "staff": "Cancelled by phone at the patient's request"},
    },
    "phone_move": {
        "zh-CN": {"patient": "您致电客服改约", "staff": "患者来电改约"},
        "en": {"patient": "Moved to another time at your request by phone",
               "staff": "Moved by phone at the patient's request"},
    },
    "staff": {
        "zh-CN": "医院工作人员取消",
        "en": {"patient": "Cancelled by the hospital", "staff": "Cancelled by hospital staff"},
    },
    "hold_expired": {
        "zh-CN": "未在规定时间内支付",
        "en": "Not paid in time",
    },
    "offer_expired": {
        "zh-CN": "候补号源未在规定时间内确认",
        "en": "Waitlist slot not accepted in time",
    },
    "offer_declined": {
        "zh-CN": {"patient": "您放弃了候补号源", "staff": "患者放弃候补号源"},
        "en": {"patient": "You declined the waitlist slot", "staff": "Waitlist slot declined by the patient"},
    },
}
# Reasons stored as words before they were codes: the same labels.
REASON_ALIASES = {"来电取消": "phone_cancel", "来电改约": "phone_move"}

UNKNOWN_REASON: Label = {"zh-CN": "其他原因", "en": "Other reason"}
UNKNOWN_STATUS: Label = {"zh-CN": "状态未知", "en": "Unknown status"}
UNKNOWN_POOL: Label = {"zh-CN": "其他号源", "en": "Other pool"}

# A machine code: lower-case words joined by ``_``; anything else is a person's own words.
CODE = re.compile(r"[a-z][a-z0-9_.:-]*")


def _lang(lang: str | None) -> str:
    return "en" if (lang or "").lower().startswith("en") else "zh-CN"


def _pick(label: Label, lang: str | None, reader: str) -> str:
    text = label[_lang(lang)]
    if isinstance(text, str):
        return text
    return text.get(reader) or text["patient"]


def status_label(code: object, lang: str | None = "zh-CN", reader: str = "patient") -> str:
    """A booking status (``BookingStatus``) as its reader says it."""
    return _pick(STATUS.get(str(code), UNKNOWN_STATUS), lang, reader)


def waitlist_label(code: object, lang: str | None = "zh-CN", reader: str = "patient") -> str:
    """A waitlist place's status (``WaitlistStatus``)."""
    return _pick(WAITLIST.get(str(code), UNKNOWN_STATUS), lang, reader)


def pool_label(code: object, lang: str | None = "zh-CN", reader: str = "staff") -> str:
    """A pool kind (``PoolKind``): 公开号源, 现场号源, 诊间号源, 社区转诊号源."""
    return _pick(POOL.get(str(code), UNKNOWN_POOL), lang, reader)


def is_code(reason: str) -> bool:
    """Whether ``reason`` is a machine code rather than words a person wrote."""
    return bool(CODE.fullmatch(reason))


def reason_label(code: object, lang: str | None = "zh-CN", reader: str = "patient") -> str:
    """Why a booking was cancelled, for its reader; ``""`` when no reason was given.

    A known code reads as its label, an unknown code as a neutral phrase (其他原因), and a
    reason a person wrote (an API client's, an agent's note) as written.
    """
    text = " ".join(str(code or "").split())
    if not text:
        return ""
    key = REASON_ALIASES.get(text, text)
    if key in REASON:
        return _pick(REASON[key], lang, reader)
    return _pick(UNKNOWN_REASON, lang, reader) if is_code(text) else text


# The engine's refusals worded for staff acting for a patient (the errors' own messages speak
# to the patient: 请查看“我的预约”). ``%(name)s`` takes the error's details.
REFUSAL_STAFF: dict[str, Label] = {
    "slot_full": {"zh-CN": "该时段号源已约满，请为患者选择其他时段。",
                  "en": "This period is fully booked; choose another period for the patient."},
    "duplicate_session": {"zh-CN": "该患者已有本次出诊的有效预约，同一出诊只能预约一个号。",
                          "en": "The patient already has a booking for this session; one booking per session."},
    "too_many_active": {"zh-CN": "该患者已有 %(active)s 个有效预约，已达上限 %(limit)s 个；请先取消其中一个或待就诊后再预约。",
                        "en": "The patient already has %(active)s active bookings, the limit is %(limit)s; "
                              "cancel one first or book after a visit."},
    "credit_suspended": {"zh-CN": "该患者因爽约被暂停预约，暂停期满前不能预约。",
                         "en": "The patient's booking is suspended after no-shows; they cannot book until it ends."},
    "outside_window": {"zh-CN": "该时段尚未放号或已停止预约，请选择其他时段。",
                       "en": "This period is not open for booking (not released yet, or closed); choose another."},
    "session_unavailable": {"zh-CN": "该出诊已停诊或取消，请为患者选择其他医生或日期。",
                            "en": "This session is suspended or cancelled; choose another doctor or date."},
    "pool_not_allowed": {"zh-CN": "该号源池不对此渠道开放，请选择其他号源。",
                         "en": "This pool is not open to this channel; choose another."},
    "cancel_too_late": {"zh-CN": "已过取消截止时间，不能代患者取消；如患者不能就诊，请其联系医院。",
                        "en": "The cancellation deadline has passed; the patient should contact the hospital."},
    "invalid_state": {"zh-CN": "该预约当前的状态不能进行此操作，请刷新后查看。",
                      "en": "The booking's status does not allow this; reload to see it."},
    "waitlist_not_full": {"zh-CN": "该出诊仍有号源，可直接预约，无需候补。",
                          "en": "This session still has units; book directly instead of joining the waitlist."},
    "already_waiting": {"zh-CN": "该患者已在本次出诊的候补队列中。",
                        "en": "The patient is already on this session's waitlist."},
    "offer_expired": {"zh-CN": "候补号源的确认时间已过，号源已转给下一位候补者。",
                      "en": "The waitlist offer has expired and passed to the next person waiting."},
    "hold_expired": {"zh-CN": "该预约的支付时间已过，号源已释放。",
                     "en": "The time to pay for this booking has passed; its unit was released."},
    "no_payment_provider": {"zh-CN": "本市暂未开通在线支付。", "en": "Online payment is not enabled in this city."},
    "try_again": {"zh-CN": "预约未能完成（未占用号源），请再提交一次。",
                  "en": "The booking did not go through (no unit was taken); submit it once more."},
}

# The same without the details, for an error that came without them.
REFUSAL_STAFF_PLAIN: dict[str, Label] = {
    "too_many_active": {"zh-CN": "该患者的有效预约已达上限；请先取消其中一个或待就诊后再预约。",
                        "en": "The patient has reached the limit of active bookings; cancel one first or book after a visit."},
}


def refusal_text(code: str, details: object = None, lang: str | None = "zh-CN", reader: str = "staff") -> str | None:
    """A booking refusal worded for ``reader`` (staff acting for a patient), or ``None`` when the
    code has no such wording (the error's own message then stands)."""
    label = REFUSAL_STAFF.get(code) if reader == "staff" else None
    if label is None:
        return None
    text = _pick(label, lang, reader)
    if "%(" not in text:
        return text
    try:
        return text % (details if isinstance(details, dict) else {})
    except (KeyError, TypeError, ValueError):
        return _pick(REFUSAL_STAFF_PLAIN[code], lang, reader)
