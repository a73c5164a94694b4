"""What each notification says (R9): one text per kind, zh-CN, and which kinds are essential
and while which booking statuses they still apply.

Booking messages carry what a patient needs on the day: booking number, hospital, department,
doctor, date and time, place, fee and what to bring (身份证、医保卡).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from guahao.core.booking.labels import reason_label
from guahao.core.models import Member
from guahao.tenants.context import CityContext

from .facts import BookingFacts, local, yuan

BRING = "请携带本人身份证、医保卡"

Text = Callable[[CityContext, Member, "BookingFacts | None", dict], str]


def _confirmed(city, m, f, data):
    return (
        f"{m.name}您好，您已预约成功。预约号：{f.booking.id}；{f.who}；就诊时间：{f.when}；"
        f"地点：{f.place}；挂号费：{f.fee}。{BRING}，于就诊时段开始前到院取号。"
    )


def _pending(city, m, f, data):
    return (
        f"{m.name}您好，已为您保留号源，请于{local(f.booking.hold_expires_at, city, '%H:%M')}前"
        f"完成支付（挂号费{yuan(f.booking.fee_fen)}），逾期号源自动释放。预约号：{f.booking.id}；"
        f"{f.who}；就诊时间：{f.when}。"
    )


def _cancelled(city, m, f, data):
    reason = reason_label(data.get("reason") or f.booking.cancel_reason)
    refund = "，挂号费将原路退回" if f.booking.payment_status in ("paid", "refunded") else ""
    because = f"，原因：{reason}" if reason else ""
    return f"{m.name}您好，您的预约已取消{because}{refund}。预约号：{f.booking.id}；{f.who}；就诊时间：{f.when}。"


def _expired(city, m, f, data):
    return (
        f"{m.name}您好，您的预约未在规定时间内确认或支付，已失效，号源已释放。"
        f"预约号：{f.booking.id}；{f.who}；就诊时间：{f.when}。"
    )


def _day_before(city, m, f, data):
    return (
        f"{m.name}您好，温馨提示：您预约了{f.when}的{f.who}。预约号：{f.booking.id}；地点：{f.place}；"
        f"挂号费：{f.fee}。{BRING}，提前到院取号。如不能就诊请及时取消，爽约将影响预约信用。"
    )


def _thirty_min(city, m, f, data):
    return (
        f"{m.name}您好，您预约的{f.who}将于{f.period.start:%H:%M}开始就诊，请尽快到{f.place}取号。"
        f"预约号：{f.booking.id}。{BRING}。"
    )


def _offer(city, m, f, data):
    until = data.get("offer_expires_at")
    until_at = datetime.fromisoformat(until) if isinstance(until, str) else f.booking.hold_expires_at
    link = f"确认请访问：{data['url']}" if data.get("url") else "请登录本平台“我的预约”确认"
    return (
        f"{m.name}您好，您候补的{f.who}有号源释放，已为您保留{f.when}，请于"
        f"{local(until_at, city)}前确认，逾期视为放弃。预约号：{f.booking.id}。{link}。"
    )


def _suspended(city, m, f, data):
    until = data.get("suspended_until")
    until_at = datetime.fromisoformat(until) if isinstance(until, str) else m.suspended_until
    reason = data.get("reason") or m.suspension_reason or "爽约"
    return (
        f"{m.name}您好，因{reason}，您在本平台的预约挂号资格已暂停至{local(until_at, city, '%Y年%m月%d日 %H:%M')}。"
        f"如有疑问请联系平台客服。"
    )


def _survey_invitation(city, m, f, data):
    visit = f"您在{f.hospital.name}{f.department.name}的就诊" if f is not None else "您的就诊"
    link = f"：{data['url']}" if data.get("url") else "，请登录本平台“我的预约”填写"
    return f"{m.name}您好，感谢您选择本平台预约挂号。诚邀您对{visit}进行满意度评价{link}。回复TD退订此类消息。"


def login_code(data: dict) -> str:
    """The one-time code of a ``login_code`` message: kept encrypted in the outbox payload."""
    from guahao.tenants.crypto import cipher

    sealed = data.get("sealed_code")
    if not isinstance(sealed, str):
        raise ValueError("a login_code notification needs data.sealed_code")
    return cipher().decrypt(sealed)


def _login_code(city, m, f, data):
    return f"您的登录验证码为{login_code(data)}，5分钟内有效。请勿将验证码告诉他人，工作人员不会向您索取。"


def _free_text(city, m, f, data):
    text = data.get("text")
    if not text:
        raise ValueError("a free-text notification needs data.text")
    return f"{m.name}您好，{text}"


def _because(data: dict) -> str:
    reason = data.get("reason")
    return f"因{reason}，" if reason else ""


def _session_suspended(city, m, f, data):
    """停诊 (R8.1): the booking (or the waitlist place) is cancelled; a move without room too."""
    moved_to = data.get("moved_to")
    if f is None:  # a waitlist place: the message carries the session's description
        what = f"您候补的{data.get('who', '')}（{data.get('when', '')}）"
        change = f"已调整至{moved_to}" if moved_to else "停诊"
        return f"{m.name}您好，{_because(data)}{what}{change}，候补已取消，请改约其他医生或日期。"
    what = f"您预约的{f.who}（{f.when}）"
    change = f"已调整至{moved_to}，新时段已无可用号源" if moved_to else "停诊"
    refund = "，已支付的挂号费将原路退回" if f.booking.payment_status in ("paid", "refunded") else ""
    return (
        f"{m.name}您好，{_because(data)}{what}{change}，您的预约已取消{refund}。预约号：{f.booking.id}。"
        f"给您带来不便，敬请谅解，请改约其他医生或日期。"
    )


def _session_moved(city, m, f, data):
    """调班 (R8.1): the booking now stands at the new time and place, same booking number."""
    return (
        f"{m.name}您好，{_because(data)}您预约的{data.get('old_when', '')}已调整为：{f.who}，{f.when}，"
        f"地点：{f.place}。预约号{f.booking.id}不变，挂号费：{f.fee}。请按新时间就诊，{BRING}；"
        f"如不能就诊，请及时取消预约。"
    )


@dataclass(frozen=True)
class Kind:
    """A notification kind: its text, whether it is essential, when it still applies."""

    text: Text
    essential: bool = True
    needs_booking: bool = True
    statuses: tuple[str, ...] = ()  # booking statuses in which it still applies; () = any


KINDS: dict[str, Kind] = {
    "booking_confirmed": Kind(_confirmed, statuses=("confirmed",)),
    "booking_pending_payment": Kind(_pending, statuses=("pending_payment",)),
    "booking_cancelled": Kind(_cancelled, statuses=("cancelled",)),
    "booking_expired": Kind(_expired, statuses=("expired",)),
    "reminder_day_before": Kind(_day_before, statuses=("confirmed",)),
    "reminder_30min": Kind(_thirty_min, statuses=("confirmed",)),
    "waitlist_offer": Kind(_offer, statuses=("offered",)),
    "credit_suspended": Kind(_suspended, needs_booking=False),
    "login_code": Kind(_login_code, needs_booking=False),
    # Not essential: members who opted out do not get these (R9.3).
    "announcement": Kind(_free_text, essential=False, needs_booking=False),
    "broadcast": Kind(_free_text, essential=False, needs_booking=False),
    "survey": Kind(_free_text, essential=False, needs_booking=False),
    "survey_invitation": Kind(_survey_invitation, essential=False, needs_booking=False),
    # Schedule changes (R8.1); a waitlist place has no booking, its data describes the session.
    "session_suspended": Kind(_session_suspended, needs_booking=False, statuses=("cancelled",)),
    "session_moved": Kind(_session_moved, statuses=("pending_payment", "confirmed")),
}


def compose(city: CityContext, kind: str, member: Member, facts: BookingFacts | None, data: dict) -> str:
    """The message text (zh-CN), prefixed with the city platform's signature."""
    spec = KINDS[kind]
    return f"【{city.name}预约挂号】" + spec.text(city, member, facts, data or {})
