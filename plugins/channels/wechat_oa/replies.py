"""What a follower's message or event is answered with: keywords, menu clicks, following and
unfollowing. Every answer is short zh-CN text (WeChat's passive reply), links point to the
patient site (``site``, ending in ``/``).

Keywords are looked for inside the message: the city's own (``keywords`` setting, longest
first), then the built-in ones — 我的预约/查询 (the member's upcoming bookings, or how to bind),
取消 (how to cancel), 缴费 (the in-clinic fee payment page), 预约/挂号 (the booking link),
帮助/就医指南 (the guide). Anything else gets the list of keywords.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import select

from guahao.plugin_api import channels, city_session

from .models import WeChatPush

BUILT_IN = (
    (("我的预约", "查询", "查预约"), "MY_BOOKINGS"),
    (("取消", "退号"), "CANCEL"),
    (("缴费", "交费", "付费", "药费", "检查费"), "FEES"),
    (("预约", "挂号", "挂个号", "约号"), "BOOK"),
    (("帮助", "就医指南", "指南", "help", "?", "？"), "GUIDE"),
)
MAX_LISTED = 5


@dataclass(frozen=True)
class Reply:
    """The text answered (``""``: none) and what it was (``outcome``, kept with the push)."""

    text: str
    outcome: str


def link(url: str, label: str) -> str:
    return f'<a href="{url}">{label}</a>'


def help_text() -> str:
    return ("您好！回复“预约”预约挂号，“我的预约”查看您的预约，“取消”了解如何取消预约，"
            "“缴费”在线缴纳药费和检查费，“帮助”查看就医指南。")


def book_text(site: str) -> str:
    return (f"点击{link(site, '预约挂号')}，选择医院、科室、医生和时段即可预约。"
            "首次使用请在网页中实名登录一次，之后预约通知会通过本公众号发给您。")


def bind_text(site: str) -> str:
    return (f"您的微信尚未绑定平台账户。请点击{link(site + 'bookings', '我的预约')}，在微信中实名登录一次即可绑定；"
            "之后回复“我的预约”就能在这里查看预约，预约通知也会发到本公众号。")


def listed_text(summaries, site: str) -> str:
    if not summaries:
        return f"您目前没有待就诊的预约。{link(site, '点此预约挂号')}"
    lines = [f"{i}. {s.when} {s.hospital} {s.department} {s.doctor} 第{s.queue_no}号（预约号{s.ref}）"
             for i, s in enumerate(summaries, 1)]
    return "您的预约：\n" + "\n".join(lines) + f"\n查看或取消请点{link(site + 'bookings', '我的预约')}。"


def fees_text(site: str) -> str:
    return (f"诊间缴费：就诊后医生开具的药费、检查费，可点击{link(site + 'fees', '诊间缴费')}在线缴纳，"
            "无需到收费窗口排队；缴费后凭电子收据直接到药房取药或去检查。")


def cancel_text(site: str) -> str:
    return (f"取消预约：点击{link(site + 'bookings', '我的预约')}，打开要取消的预约，点“取消预约”。"
            "请在就诊前按医院规定时间取消；无故爽约会记入信用记录。已付挂号费将原路退回。")


def _site_text(text: str, site: str) -> str:
    return text.replace("{site}", site)


async def action(rt, key: str, openid: str, *, settings: Mapping, site: str) -> Reply:
    """The answer to one of the menu's keys (``BOOK``, ``MY_BOOKINGS``, ``CANCEL``, ``GUIDE``)."""
    if key == "BOOK":
        return Reply(book_text(site), "book")
    if key == "MY_BOOKINGS":
        member = await channels.member_by_openid(rt, openid)
        if member is None:
            return Reply(bind_text(site), "not_bound")
        return Reply(listed_text(await channels.upcoming(rt, member_id=member.id, limit=MAX_LISTED), site), "listed")
    if key == "CANCEL":
        return Reply(cancel_text(site), "cancel_help")
    if key == "FEES":
        return Reply(fees_text(site), "fees")
    if key == "GUIDE":
        return Reply(_site_text(str(settings.get("guide") or ""), site) or help_text(), "guide")
    return Reply("", "unknown_key")


async def keyword(rt, content: str, openid: str, *, settings: Mapping, site: str) -> Reply:
    """The answer to a text message."""
    text = (content or "").strip()
    own = settings.get("keywords") or {}
    for word in sorted(own, key=len, reverse=True):
        if word and word in text:
            return Reply(_site_text(str(own[word]), site), "city_keyword")
    for words, key in BUILT_IN:
        if any(w in text for w in words):
            return await action(rt, key, openid, settings=settings, site=site)
    return Reply(help_text(), "help")


async def rebind(rt, city, openid: str) -> bool:
    """A follower coming back: the member their unfollowing unbound gets the openid again (when
    no one has it now)."""
    async with city_session(rt, city) as s:
        last = await s.scalar(select(WeChatPush.outcome).where(
            WeChatPush.openid == openid, WeChatPush.kind == "event:unsubscribe").order_by(WeChatPush.id.desc()).limit(1))
    if not last or not last.startswith("unbound:") or not last[8:].isdigit():
        return False
    if await channels.member_by_openid(rt, openid) is not None:
        return False
    return await channels.bind_openid(rt, int(last[8:]), openid)


async def respond(rt, city, message, *, settings: Mapping, site: str) -> Reply:
    """The answer to a ``wechatpy`` message or event from a follower."""
    openid = message.source
    if message.type == "text":
        return await keyword(rt, message.content, openid, settings=settings, site=site)
    if message.type != "event":
        return Reply(help_text(), "unsupported")
    event = message.event
    if event in ("subscribe", "subscribe_scan"):
        welcome = _site_text(str(settings.get("welcome") or "").replace("{city}", city.name), site) or help_text()
        if await rebind(rt, city, openid):
            return Reply(welcome + "欢迎回来，预约通知将继续发到本微信。", "welcome_back")
        return Reply(welcome, "welcome")
    if event == "unsubscribe":  # no answer reaches someone who left; their notices go by SMS from now on
        member_id = await channels.unbind_openid(rt, openid)
        return Reply("", f"unbound:{member_id}" if member_id is not None else "unfollowed")
    if event == "click":
        return await action(rt, str(message.key or ""), openid, settings=settings, site=site)
    if event == "templatesendjobfinish":
        return Reply("", f"template:{str(message.status or '')[:30]}")
    return Reply("", f"event:{event[:34]}")
