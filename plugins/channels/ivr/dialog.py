"""The phone menu (12320) as a state machine, independent of any telephony dialect.

A call's state is a plain dict (JSON, kept per call by :mod:`.calls`). :func:`start` answers
the call, :func:`step` takes the keys the caller pressed (``None`` when the wait ran out) and
both return the :class:`Turn` to play: what to say, how many keys to wait for, and whether the
call ends or goes to an agent. A side effect beyond the platform's own services (the SMS with a
payment link) is left in ``state["effects"]`` for the caller to carry out with the new state.
Renderers (TwiML in :mod:`.twiml`, a FreeSWITCH ``mod_httapi`` document…) only turn a
:class:`Turn` into their markup.

Everywhere: ``0`` alone goes to a human agent, ``*`` repeats the last prompt; a timeout or a
key that means nothing re-prompts twice, the third time the call goes to an agent (when the
city has one) or ends politely. The tree (see ``docs/channel-phone.md``): identify (caller
number or a typed registered number, then the PIN) → main menu: 1 book (hospital by number or
拼音 initials → department → doctor or any doctor → date → morning/afternoon → read back →
book → payment choice), 2 my upcoming bookings, 3 cancel one of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from . import keypad

MAX_MISSES = 2  # re-prompts after a timeout or a wrong key before the call is handed on
MAX_PIN_FAILS = 3
PAGE = 8  # numbered choices read per page; 9 reads the next page
WEEKDAYS = "一二三四五六日"
HALF_DAYS = {"am": "上午", "pm": "下午", "evening": "晚上"}

WELCOME = "您好，欢迎致电预约挂号服务。"
HINT = "重听请按星号键，人工服务请按0。"
ASK_PIN = "请输入密码，即身份证号码后6位，末位是X请按0，以井号键结束。"
ASK_PHONE = "未能识别您的来电号码。请输入您注册时使用的手机号码，以井号键结束。"
MAIN = "预约挂号请按1，查询预约请按2，取消预约请按3。"


class Refused(Exception):
    """The platform refused an action (booking, cancel); ``message`` is what the caller hears."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Services(Protocol):
    """What the menu asks of the platform (:mod:`.services` is the real one)."""

    today: date

    async def member_by_phone(self, phone: str) -> Any: ...
    async def check_pin(self, member_id: int, digits: str) -> bool: ...
    async def hospitals(self) -> list: ...
    async def departments(self, hospital_id: int) -> list: ...
    async def doctors(self, hospital_id: int, department_id: int) -> list: ...
    async def slots(self, department_id: int, day: date, half_day: str = "", doctor_id: int | None = None) -> list: ...
    async def book(self, member_id: int, slots: list, key: str) -> Any: ...
    async def upcoming(self, member_id: int) -> list: ...
    async def cancel(self, member_id: int, ref: str) -> Any: ...


@dataclass(frozen=True)
class Turn:
    """What to play next: ``say`` (Mandarin text-to-speech text), then wait for up to ``keys``
    keys (``0`` with ``finish``: any number, ended by ``#``; ``0`` without: wait for nothing),
    ``finish`` for ``#``-ended input; ``end`` is ``"hangup"`` or ``"agent"`` to end the dialog."""

    say: str
    keys: int = 1
    finish: bool = False
    end: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def spell(ref: str) -> str:
    """A booking reference read character by character (``7K3QP-…`` → ``7 K 3 Q P，…``)."""
    return "，".join(" ".join(part) for part in ref.split("-"))


def day_name(day: date, today: date) -> str:
    words = {1: "明天", 2: "后天"}.get((day - today).days, "")
    return f"{words}{day.month}月{day.day}日星期{WEEKDAYS[day.weekday()]}"


def _ask(state: dict, say: str, *, keys: int = 1, finish: bool = False) -> Turn:
    turn = Turn(say, keys=keys, finish=finish)
    state["last"] = turn.as_dict()
    return turn


def _menu(state: dict, step: str, intro: str, options: list[dict], *, tail: str = "", typed: bool = False) -> Turn:
    """A numbered menu over ``options`` (each ``{"id", "name", …}``), a page of :data:`PAGE`
    at a time with 9 for the next page; ``typed`` also takes 拼音 initials ended by ``#``."""
    state.update(step=step, options=options, page=state.get("page", 0) if state.get("step") == step else 0)
    page = state["page"]
    shown = options[page * PAGE:(page + 1) * PAGE] if len(options) > 9 else options
    parts = [f"{o['name']}请按{i}" for i, o in enumerate(shown, 1)]
    if len(options) > 9:
        parts.append("更多请按9")
    say = f"{intro}{'，'.join(parts)}。{tail}"
    return _ask(state, say, keys=0 if typed else 1, finish=typed)


def _chosen(state: dict, digits: str) -> dict | None:
    """The option a single key names on the current page, or ``None``."""
    if len(digits) != 1 or not digits.isdigit() or digits == "0":
        return None
    options, page = state.get("options") or [], state.get("page", 0)
    shown = options[page * PAGE:(page + 1) * PAGE] if len(options) > 9 else options
    index = int(digits) - 1
    return shown[index] if index < len(shown) else None


def _next_page(state: dict, digits: str) -> bool:
    options = state.get("options") or []
    if digits == "9" and len(options) > 9:
        pages = (len(options) + PAGE - 1) // PAGE
        state["page"] = (state.get("page", 0) + 1) % pages
        return True
    return False


def _repeat(state: dict) -> Turn:
    last = state.get("last") or {"say": MAIN, "keys": 1, "finish": False}
    return Turn(last["say"], keys=last["keys"], finish=last["finish"])


def _agent(state: dict, why: str = "") -> Turn:
    state["step"] = "agent"
    return Turn(f"{why}正在为您转接人工服务，请稍候。您的通话编号是{' '.join(state.get('ref', ''))}。", keys=0, end="agent")


def _bye(state: dict, why: str = "") -> Turn:
    state["step"] = "ended"
    return Turn(f"{why}感谢您的来电，再见。", keys=0, end="hangup")


def _miss(state: dict, why: str, *, agent: bool) -> Turn:
    """A timeout or a wrong key: re-prompt (twice), then hand on to an agent or hang up."""
    state["misses"] = state.get("misses", 0) + 1
    if state["misses"] > MAX_MISSES:
        return _agent(state, "抱歉，没有收到有效的按键。") if agent else _bye(state, "抱歉，没有收到有效的按键。")
    last = _repeat(state)
    return Turn(f"{why}{last.say}", keys=last.keys, finish=last.finish)


async def start(state: dict, svc: Services, *, caller: str) -> Turn:
    """Answer a call from ``caller``: by a registered number, ask the PIN; else the number."""
    state.update(step="phone", misses=0, pin_fails=0, phone=caller)
    member = await svc.member_by_phone(caller) if caller else None
    if member is not None:
        state.update(step="pin", member_id=member.id, member_phone=member.phone)
        return _ask(state, f"{WELCOME}{ASK_PIN}{HINT}", keys=6, finish=True)
    return _ask(state, f"{WELCOME}{ASK_PHONE}{HINT}", keys=11, finish=True)


async def step(state: dict, digits: str | None, svc: Services, *, agent: bool = True) -> Turn:
    """The answer to the keys pressed at the current step (``None``/empty: the wait ran out).
    ``agent``: whether the city has agents to hand callers to."""
    digits = (digits or "").strip().rstrip("#")
    state["agents"] = agent
    current = state.get("step", "")
    if current in ("ended", "agent"):
        return _bye(state)
    if digits == "0" and agent:
        return _agent(state)
    if digits == "*":
        return _repeat(state)
    if not digits:
        return _miss(state, "", agent=agent)
    handler = _STEPS.get(current)
    if handler is None:
        return _bye(state)
    turn = await handler(state, digits, svc)
    if turn is None:
        return _miss(state, "输入有误。", agent=agent)
    if not turn.end:
        state["misses"] = 0
    return turn


# --- identification -------------------------------------------------------------------------

async def _phone(state: dict, digits: str, svc: Services) -> Turn | None:
    member = await svc.member_by_phone(digits) if len(digits) == 11 else None
    if member is None:
        return None
    state.update(step="pin", member_id=member.id, member_phone=member.phone)
    return _ask(state, ASK_PIN, keys=6, finish=True)


async def _pin(state: dict, digits: str, svc: Services) -> Turn | None:
    try:
        passed = await svc.check_pin(state["member_id"], digits)
    except Refused:  # too many recent failures for this member, in this call or others
        state["pin_fails"] = MAX_PIN_FAILS
        passed = False
    if passed:
        state["verified"] = True
        return main_menu(state)
    state["pin_fails"] = state.get("pin_fails", 0) + 1
    if state["pin_fails"] >= MAX_PIN_FAILS:
        if state.get("agents", True):
            return _agent(state, "密码错误次数过多。")
        return _bye(state, "密码错误次数过多，请核对后再拨。")
    return _ask(state, f"密码不正确，请重新输入。{ASK_PIN}", keys=6, finish=True)


def main_menu(state: dict, before: str = "") -> Turn:
    state["step"] = "main"
    return _ask(state, f"{before}{MAIN}{HINT}")


async def _main(state: dict, digits: str, svc: Services) -> Turn | None:
    if digits == "1":
        return await _offer_hospitals(state, svc)
    if digits == "2":
        return await _list_bookings(state, svc)
    if digits == "3":
        return await _offer_cancel(state, svc)
    return None


# --- booking --------------------------------------------------------------------------------

async def _offer_hospitals(state: dict, svc: Services, options: list[dict] | None = None) -> Turn:
    if options is None:
        options = [{"id": h.id, "name": h.name, "keys": h.keys} for h in await svc.hospitals()]
    if not options:
        return main_menu(state, "暂无可预约的医院。")
    return _menu(state, "hospital", "请选择医院：", options, typed=True,
                 tail="也可输入医院名称的拼音首字母，以井号键结束。")


async def _hospital(state: dict, digits: str, svc: Services) -> Turn | None:
    if _next_page(state, digits):
        return _menu(state, "hospital", "请选择医院：", state["options"], typed=True)
    chosen = _chosen(state, digits)
    if chosen is None and len(digits) >= 2:
        everyone = [{"id": h.id, "name": h.name, "keys": h.keys} for h in await svc.hospitals()]
        found = keypad.matching(digits, [(o, o["keys"]) for o in everyone])
        if len(found) == 1:
            chosen = found[0]
        elif found:
            state["step"] = ""
            return _menu(state, "hospital", f"找到{len(found)}家医院：", found, typed=True)
    if chosen is None:
        return None
    state["hospital"] = {"id": chosen["id"], "name": chosen["name"]}
    departments = [{"id": d.id, "name": d.name} for d in await svc.departments(chosen["id"])]
    if not departments:
        return main_menu(state, f"{chosen['name']}暂无可预约的科室。")
    return _menu(state, "department", f"{chosen['name']}。请选择科室：", departments)


async def _department(state: dict, digits: str, svc: Services) -> Turn | None:
    if _next_page(state, digits):
        return _menu(state, "department", "请选择科室：", state["options"])
    chosen = _chosen(state, digits)
    if chosen is None:
        return None
    state["department"] = {"id": chosen["id"], "name": chosen["name"]}
    doctors = [{"id": None, "name": "任意医生"}] + [
        {"id": d.id, "name": f"{d.name}{d.detail}"} for d in await svc.doctors(state["hospital"]["id"], chosen["id"])
    ]
    return _menu(state, "doctor", f"{chosen['name']}。请选择医生：", doctors)


async def _doctor(state: dict, digits: str, svc: Services) -> Turn | None:
    if _next_page(state, digits):
        return _menu(state, "doctor", "请选择医生：", state["options"])
    chosen = _chosen(state, digits)
    if chosen is None:
        return None
    state["doctor"] = {"id": chosen["id"], "name": chosen["name"]}
    return await _offer_days(state, svc)


async def _open_slots(state: dict, svc: Services, day: date, half_day: str = "") -> list:
    slots = await svc.slots(state["department"]["id"], day, half_day, (state.get("doctor") or {}).get("id"))
    return [s for s in slots if s.released and s.free_periods]


async def _offer_days(state: dict, svc: Services) -> Turn:
    days = []
    for n in range(1, int(state.get("days_ahead", 7)) + 1):
        day = svc.today + timedelta(days=n)
        if await _open_slots(state, svc, day):
            days.append({"id": day.isoformat(), "name": day_name(day, svc.today)})
        if len(days) == 9:
            break
    if not days:
        return main_menu(state, "抱歉，近期没有可预约的号源。")
    return _menu(state, "day", "请选择就诊日期：", days)


async def _day(state: dict, digits: str, svc: Services) -> Turn | None:
    chosen = _chosen(state, digits)
    if chosen is None:
        return None
    state["day"] = chosen["id"]
    slots = await _open_slots(state, svc, date.fromisoformat(chosen["id"]))
    halves = sorted({s.half_day for s in slots}, key=list(HALF_DAYS).index)
    options = [{"id": h, "name": HALF_DAYS[h]} for h in halves]
    return _menu(state, "half_day", f"{chosen['name']}。请选择时段：", options)


async def _half_day(state: dict, digits: str, svc: Services) -> Turn | None:
    chosen = _chosen(state, digits)
    if chosen is None:
        return None
    state["half_day"] = chosen["id"]
    slots = await _open_slots(state, svc, date.fromisoformat(state["day"]), chosen["id"])
    if not slots:
        return main_menu(state, "抱歉，该时段号源已约满。")
    first = slots[0]
    day = date.fromisoformat(state["day"])
    campus = f"{first.campus}院区，" if first.campus and not first.campus.endswith(("院区", "本部")) else (
        f"{first.campus}，" if first.campus else "")
    state["step"] = "confirm"
    return _ask(state, (
        f"您预约的是：{state['hospital']['name']}，{campus}{state['department']['name']}，{first.doctor_name}医生，"
        f"{day_name(day, svc.today)}{HALF_DAYS[chosen['id']]}，挂号费{first.fee}。确认预约请按1，重新选择请按2。"
    ))


async def _confirm(state: dict, digits: str, svc: Services) -> Turn | None:
    if digits == "2":
        return await _offer_hospitals(state, svc)
    if digits != "1":
        return None
    slots = await _open_slots(state, svc, date.fromisoformat(state["day"]), state["half_day"])
    try:
        if not slots:
            raise Refused("slot_full", "该时段号源已约满")
        booked = await svc.book(state["member_id"], slots, f"ivr:{state.get('call', '')}:{state.get('turn', 0)}")
    except Refused as refused:
        return main_menu(state, f"预约未成功：{refused.message.rstrip('。')}。")
    state.update(booking=booked.ref, step="pay")
    return _ask(state, (
        f"预约成功。{booked.hospital}，{booked.doctor}医生，{booked.day.month}月{booked.day.day}日"
        f"{HALF_DAYS.get(booked.half_day, '')}{booked.start}，第{booked.queue_no}号，挂号费{booked.fee}。"
        f"预约号：{spell(booked.ref)}。到医院缴费请按1，短信接收支付链接请按2。"
    ))


async def _pay(state: dict, digits: str, svc: Services) -> Turn | None:
    if digits == "1":
        before = "好的，请在就诊当天到医院窗口缴费取号。"
    elif digits == "2":
        # Done by the caller of the menu with the turn it stores (so a repeated request sends once).
        state["effects"] = [{"kind": "pay_link", "member_id": state["member_id"],
                             "phone": state.get("member_phone", ""), "booking": state["booking"]}]
        before = "支付链接已通过短信发送到您的手机。"
    else:
        return None
    state["step"] = "after"
    return _ask(state, f"{before}返回主菜单请按1，结束通话请挂机。")


async def _after(state: dict, digits: str, svc: Services) -> Turn | None:
    if digits == "1":
        return main_menu(state)
    return None


# --- query and cancel -----------------------------------------------------------------------

async def _list_bookings(state: dict, svc: Services) -> Turn:
    bookings = await svc.upcoming(state["member_id"])
    if not bookings:
        return main_menu(state, "您目前没有待就诊的预约。")
    parts = [f"第{i}个，{b.when}，{b.hospital}{b.department}，{b.doctor}医生，第{b.queue_no}号，预约号{spell(b.ref)}"
             for i, b in enumerate(bookings, 1)]
    state["step"] = "after"
    return _ask(state, f"您有{len(bookings)}个预约。{'；'.join(parts)}。返回主菜单请按1。")


async def _offer_cancel(state: dict, svc: Services) -> Turn:
    bookings = await svc.upcoming(state["member_id"])
    if not bookings:
        return main_menu(state, "您目前没有可取消的预约。")
    options = [{"id": b.ref, "name": f"取消{b.when}{b.doctor}医生的预约"} for b in bookings]
    return _menu(state, "cancel", "", options)


async def _cancel(state: dict, digits: str, svc: Services) -> Turn | None:
    chosen = _chosen(state, digits)
    if chosen is None:
        return None
    state.update(step="cancel_confirm", cancel=chosen["id"])
    return _ask(state, f"{chosen['name'].removeprefix('取消')}，预约号{spell(chosen['id'])}。确认取消请按1，返回主菜单请按2。")


async def _cancel_confirm(state: dict, digits: str, svc: Services) -> Turn | None:
    if digits == "2":
        return main_menu(state)
    if digits != "1":
        return None
    try:
        done = await svc.cancel(state["member_id"], state["cancel"])
    except Refused as refused:
        return main_menu(state, f"取消未成功：{refused.message.rstrip('。')}。")
    return main_menu(state, f"已取消预约{spell(done.ref)}。")


_STEPS = {
    "phone": _phone, "pin": _pin, "main": _main, "hospital": _hospital, "department": _department,
    "doctor": _doctor, "day": _day, "half_day": _half_day, "confirm": _confirm, "pay": _pay, "after": _after,
    "cancel": _cancel, "cancel_confirm": _cancel_confirm,
}
