"""The meters: what the ledger counts, under the names exports and invoices use.

Every meter sums whole numbers of its unit. ``hospital.active`` is a distinct count by
construction: a hospital's first billable booking of a month is its one row of that month
(the source id names the hospital and the month), so its sum is the number of hospitals
that were active.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Meter:
    name: str
    label: str  # zh-CN
    label_en: str
    unit: str  # zh-CN
    unit_en: str
    dimensions: tuple[str, ...] = ()


_ALL = (
    Meter("booking.confirmed", "确认的预约", "Confirmed bookings", "次", "bookings", ("channel", "registration_type")),
    Meter("booking.cancelled", "取消的预约", "Cancelled bookings", "次", "bookings", ("channel", "registration_type", "reason")),
    Meter("fee.paid_fen", "线上收取的挂号费", "Fees paid online", "分", "fen", ("provider",)),
    Meter("fee.refunded_fen", "退还的挂号费", "Fees refunded", "分", "fen", ("provider",)),
    Meter("notification.sent", "发送的消息", "Messages sent", "条", "messages", ("channel", "kind")),
    Meter("phone.minutes", "电话服务时长", "Phone minutes", "分钟", "minutes", ("channel",)),
    Meter("api.third_party_calls", "第三方接口调用", "Third-party API calls", "次", "calls", ("client",)),
    Meter("member.registered", "注册的用户", "Members registered", "人", "members", ("registered_by",)),
    Meter("hospital.active", "有预约的医院", "Active hospitals", "家", "hospitals", ("hospital",)),
)

METERS: dict[str, Meter] = {m.name: m for m in _ALL}
"""Meter name → its declaration, in the order exports and invoices list them."""

SMS_SEGMENT_CHARS = 70
"""An SMS is billed per segment of 70 characters (a longer text is several segments)."""


def sms_segments(chars: int) -> int:
    """Billable segments of an SMS of ``chars`` characters (at least one)."""
    return max(1, -(-chars // SMS_SEGMENT_CHARS))
