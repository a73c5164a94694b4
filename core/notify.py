"""Notifications to members (R9): what each message says, whether it still applies, who sends it.

A ``notify`` outbox message becomes one ``Notification`` row (the city's message log); its
delivery through the city's preferred sender is ``core.jobs.delivery``. Re-running the same message
finds that row again, so a retry never sends twice what was already delivered. Booking
messages carry what a patient needs on the day: booking number, hospital, department, doctor,
date and time, place, fee and what to bring (身份证、医保卡).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import (
    Booking,
    Campus,
    ClinicSession,
    Department,
    Doctor,
    Hospital,
    Member,
    Notification,
    Period,
    RegistrationType,
)
from guahao.tenants.context import CityContext
from guahao.tenants.models import CityHost

log = logging.getLogger("guahao.notify")

WEEKDAYS = "一二三四五六日"
HALF_DAYS = {"am": "上午", "pm": "下午", "evening": "晚上"}
BRING = "请携带本人身份证、医保卡"


class NoSender(RuntimeError):
    """The city has no enabled sender for the channel; retried until one is configured."""


class SendFailed(RuntimeError):
    """The sender failed in a way a later try may fix; retried with back-off by the outbox.

    Parameters:
        message: the failure, as recorded on the outbox row.
        retry_after: seconds the provider asked to wait before the next try (a hint).
    """

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}元"


def local(at: datetime | None, city: CityContext, fmt: str = "%m月%d日 %H:%M") -> str:
    return at.astimezone(city.tz).strftime(fmt) if at else ""


@dataclass
class BookingFacts:
    """Everything a booking message mentions, loaded once."""

    booking: Booking
    hospital: Hospital
    department: Department
    doctor: Doctor
    session: ClinicSession
    period: Period
    campus: Campus | None
    reg_type: RegistrationType | None

    @property
    def when(self) -> str:
        d = self.session.date
        return (
            f"{d.year}年{d.month}月{d.day}日（星期{WEEKDAYS[d.weekday()]}）"
            f"{HALF_DAYS.get(str(self.session.half_day), '')} "
            f"{self.period.start:%H:%M}-{self.period.end:%H:%M}"
        )

    @property
    def place(self) -> str:
        text = self.hospital.name
        address = self.hospital.address
        if self.campus is not None:
            text += self.campus.name
            address = self.campus.address or address
        text += f" {self.department.name}"
        return f"{text}（{address}）" if address else text

    @property
    def who(self) -> str:
        rtype = f"（{self.reg_type.name}号）" if self.reg_type else ""
        return f"{self.hospital.name} {self.department.name} {self.doctor.name}{rtype}"

    @property
    def fee(self) -> str:
        b = self.booking
        if b.payment_status == "paid":
            note = "已支付"
        elif b.payment_status == "unpaid":
            note = "待支付"
        else:
            note = "就诊当日到院支付"
        return f"{yuan(b.fee_fen)}（{note}）"


async def load_facts(s: AsyncSession, booking_id: str) -> BookingFacts | None:
    b = await s.scalar(select(Booking).where(Booking.id == booking_id))
    if b is None:
        return None

    async def one(model, ident):
        return await s.scalar(select(model).where(model.id == ident)) if ident is not None else None

    cs = await one(ClinicSession, b.session_id)
    return BookingFacts(
        booking=b,
        hospital=await one(Hospital, b.hospital_id),
        department=await one(Department, b.department_id),
        doctor=await one(Doctor, b.doctor_id),
        session=cs,
        period=await one(Period, b.period_id),
        campus=await one(Campus, cs.campus_id),
        reg_type=await one(RegistrationType, cs.registration_type_id),
    )


# --- texts --------------------------------------------------------------------------------

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
    reason = data.get("reason") or f.booking.cancel_reason
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


def message_params(city: CityContext, kind: str, member: Member, facts: BookingFacts | None, data: dict) -> dict[str, str]:
    """Named values for provider templates (SMS, WeChat), the same facts the text states."""
    params = {"name": member.name, "city": city.name}
    if facts is not None:
        b, d = facts.booking, facts.session.date
        params.update(
            booking_no=b.id,
            hospital=facts.hospital.name,
            department=facts.department.name,
            doctor=facts.doctor.name,
            when=facts.when,
            date=f"{d.month}月{d.day}日",
            time=f"{facts.period.start:%H:%M}-{facts.period.end:%H:%M}",
            place=facts.place,
            fee=yuan(b.fee_fen),
        )
        if kind == "booking_pending_payment":
            params["deadline"] = local(b.hold_expires_at, city, "%H:%M")
        if kind == "waitlist_offer":
            until = data.get("offer_expires_at")
            params["deadline"] = local(datetime.fromisoformat(until) if isinstance(until, str) else b.hold_expires_at, city)
        if kind == "booking_cancelled":
            params["reason"] = str(data.get("reason") or b.cancel_reason or "")
    if kind == "credit_suspended":
        until = data.get("suspended_until")
        at = datetime.fromisoformat(until) if isinstance(until, str) else member.suspended_until
        params.update(until=local(at, city, "%Y年%m月%d日"), reason=str(data.get("reason") or member.suspension_reason or "爽约"))
    if kind == "login_code":
        params["code"] = login_code(data)
    for key in ("text", "url", "reason", "old_when", "moved_to", "who", "when"):
        if data.get(key) and key not in params:
            params[key] = str(data[key])
    return params


@dataclass(frozen=True)
class Template:
    """A provider template filled in: ``values`` maps template variables to text, in order."""

    code: str
    values: dict[str, str]


def template_for(settings: Mapping, kind: str, params: Mapping[str, str], *, code_key: str = "code") -> Template | None:
    """The provider template a city's sender settings give ``kind``; ``None`` when none.

    ``settings["templates"][kind]`` is a template code, or ``{code_key: code, "params": …}``
    where ``params`` maps template variables to message params (``{"no": "booking_no"}``) or
    lists message params in template order (positional templates). Without ``params`` every
    message param goes under its own name.
    """
    spec = (settings.get("templates") or {}).get(kind)
    if not spec:
        return None
    if isinstance(spec, str):
        return Template(spec, {k: str(v) for k, v in params.items()})
    code = str(spec.get(code_key) or spec.get("code") or "")
    if not code:
        return None
    wanted = spec.get("params")
    if wanted is None:
        values = {k: str(v) for k, v in params.items()}
    elif isinstance(wanted, Mapping):
        values = {var: str(params.get(name, "")) for var, name in wanted.items()}
    else:
        values = {name: str(params.get(name, "")) for name in wanted}
    return Template(code, values)


# --- planning and delivery ----------------------------------------------------------------


@dataclass
class Planned:
    """A notification row with what its delivery needs: template params and addresses."""

    note: Notification
    params: dict[str, str]
    addresses: dict[str, str]  # channel → the member's address on it


def member_addresses(member: Member, payload: dict) -> dict[str, str]:
    """Where a member can be reached, per channel.

    The member's mobile number, e-mail and WeChat openid (R1.5); a notification's
    ``recipients`` (``{"email": …, "wechat": …}``) overrides them.
    """
    found = {
        "sms": member.phone,
        "voice": member.phone,
        "email": member.email or "",
        "wechat": member.wechat_openid or "",
    }
    found.update({k: str(v) for k, v in (payload.get("recipients") or {}).items() if v})
    return {k: v for k, v in found.items() if v}


async def link_base(s: AsyncSession, city: CityContext, public_base_url: str = "") -> str:
    """Where links in a city's messages start: the city's first host name, else the platform's
    public address (``Settings.public_base_url``), else ``""`` (links stay relative)."""
    host = await s.scalar(select(CityHost.host).where(CityHost.city_id == city.id).order_by(CityHost.host).limit(1))
    if host:
        return f"https://{host}"
    return (public_base_url or "").rstrip("/")


def absolute(base: str, path: str) -> str:
    """``path`` under ``base`` when it is a path of ours and a base is known; else unchanged."""
    return base + path if base and path.startswith("/") and not path.startswith("//") else path


async def _with_links(s: AsyncSession, city: CityContext, kind: str, booking_id: str | None, data: dict,
                      public_base_url: str) -> dict:
    """The message data with its links made absolute; a waitlist offer links to its booking."""
    if kind == "waitlist_offer" and booking_id and not data.get("url"):
        data = {**data, "url": f"/c/{city.slug}/bookings/{booking_id}"}
    if isinstance(data.get("url"), str) and data["url"].startswith("/"):
        data = {**data, "url": absolute(await link_base(s, city, public_base_url), data["url"])}
    return data


async def plan(s: AsyncSession, city: CityContext, payload: dict, *, public_base_url: str = "") -> Planned | None:
    """Find or create the notification row for ``payload``; ``None`` when it no longer applies.

    ``public_base_url`` (``Settings.public_base_url``) makes links absolute when the city has
    no host name of its own."""
    kind = payload.get("kind")
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown notification kind {kind!r}")
    member = await s.scalar(select(Member).where(Member.id == payload.get("member_id")))
    if member is None:
        log.warning("notification %s for unknown member %s dropped", kind, payload.get("member_id"))
        return None
    booking_id = payload.get("booking_id")
    facts = await load_facts(s, booking_id) if booking_id else None
    if spec.needs_booking and facts is None:
        log.warning("notification %s for unknown booking %s dropped", kind, booking_id)
        return None
    if facts is not None and spec.statuses and str(facts.booking.status) not in spec.statuses:
        return None  # e.g. a reminder for a booking cancelled since
    data = await _with_links(s, city, kind, booking_id, payload.get("data") or {}, public_base_url)
    body = compose(city, kind, member, facts, data)

    def planned(note: Notification) -> Planned:
        return Planned(note, message_params(city, kind, member, facts, data), member_addresses(member, payload))

    same = select(Notification).where(
        Notification.member_id == member.id,
        Notification.kind == kind,
        Notification.booking_id == booking_id if booking_id else Notification.booking_id.is_(None),
    )
    if not booking_id:
        same = same.where(Notification.body == body)
    existing = await s.scalar(same.order_by(Notification.id).limit(1))
    if existing is not None:
        return planned(existing)
    row = Notification(
        member_id=member.id,
        booking_id=booking_id,
        kind=kind,
        recipient=member.phone,
        body=body[:2000],
        essential=spec.essential,
        status="pending",
    )
    if not spec.essential and member.notifications_opt_out:
        row.status = "skipped"
        row.error = "member opted out of non-essential messages"
    s.add(row)
    await s.flush()
    return planned(row)
