"""Every reply an SMS can get, in short zh-CN text (the city's signature is added when sent)."""

from __future__ import annotations

from datetime import date

from .grammar import EXAMPLE, Invalid

HALF_DAY_NAMES = {"am": "上午", "pm": "下午", "evening": "晚上"}
WHAT = {"hospital": "医院", "department": "科室", "doctor": "医生"}


def help_text() -> str:
    return (f"短信预约：预约*姓名*日期*医院*科室*医生(可省)*上午或下午(可省)，如 {EXAMPLE}；"
            "查询预约发“查询”；取消发“取消 预约号”。")


def invalid(request: Invalid) -> str:
    return f"{request.problem}正确格式如：{request.example}。发“帮助”查看说明。"


def unknown_phone(city_name: str) -> str:
    return (f"本手机号尚未在{city_name}预约挂号平台实名注册。请先在平台网站或拨打12320用本人身份证注册，"
            "注册后用该手机号发短信即可预约。")


def name_mismatch(name: str) -> str:
    return f"姓名“{name}”与本手机号注册的实名不符，请填写注册时的姓名（就诊人本人）。"


def not_found(field: str, text: str) -> str:
    hint = {"hospital": "请用医院全称、简称或代码", "department": "请用科室名称或代码",
            "doctor": "可省略医生，由系统安排"}[field]
    return f"未找到{WHAT[field]}“{text}”，{hint}。"


def choose(field: str, text: str, options: list[str]) -> str:
    listed = " ".join(f"{i}.{name}" for i, name in enumerate(options, 1))
    return f"“{text}”对应多个{WHAT[field]}，请回复序号：{listed}"


def nothing_to_choose() -> str:
    return "没有待选择的项目，请重新发送预约短信。发“帮助”查看说明。"


def no_session(what: str, day: date, half_day: str) -> str:
    return f"{what}{day.month}月{day.day}日{HALF_DAY_NAMES.get(half_day, '')}没有可预约的出诊，请换一天或换一位医生。"


def booked(s, tz) -> str:
    """``s`` is a ``BookingSummary``; ``tz`` the city's time zone."""
    if s.payment_status == "unpaid" and s.hold_expires_at is not None:
        pay = f"挂号费{s.fee}，请在平台“我的预约”中于{s.hold_expires_at.astimezone(tz):%H:%M}前支付，逾期自动取消"
    else:
        pay = f"挂号费{s.fee}到院支付"
    return (f"预约成功：{s.hospital}（{s.place}）{s.department} {s.doctor}，{s.when}，第{s.queue_no}号，{pay}。"
            f"预约号{s.ref}，取消请回复：取消 {s.ref}")


def refused(message: str) -> str:
    return f"预约未成功：{message}"


def listed(summaries) -> str:
    if not summaries:
        return "您目前没有待就诊的预约。预约请发：" + EXAMPLE
    lines = [f"{i}.{s.when} {s.hospital} {s.department} {s.doctor} 第{s.queue_no}号 预约号{s.ref}"
             for i, s in enumerate(summaries, 1)]
    return "您的预约：" + "；".join(lines) + "。取消请回复：取消 预约号"


def cancelled(s) -> str:
    refund = "，已付挂号费将原路退回" if s.payment_status in ("paid", "refunded") else ""
    return f"已取消预约{s.ref}：{s.hospital} {s.department} {s.doctor}，{s.when}{refund}。"


def cancel_refused(message: str) -> str:
    return f"取消未成功：{message}"


def opted_out() -> str:
    return "已退订平台的通知、问卷等非必要短信；预约结果、就诊提醒等与您预约有关的短信仍会发送。恢复请回复“订阅”。"


def opted_in() -> str:
    return "已恢复接收平台的通知短信。退订请回复“TD”。"
