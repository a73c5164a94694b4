"""The staff banner of a city's console pages: what its licence means today, in a sentence.

=================  ============================================================  =========
state              the banner says                                               level
=================  ============================================================  =========
valid              nothing (unless a limit is exceeded)                          —
expiring           the last day and the days left; renew                        warning
grace              ended on …, days of grace left, then no new bookings          warning
restricted         why; no new bookings; what keeps working; no data deleted      danger
not_yet_valid      from when; no new bookings until then; what keeps working      danger
unlicensed         no licence installed; bookings are taken                      info
=================  ============================================================  =========

A limit exceeded (hospitals, bookings this month, channels) adds a line of overage: it is
billed, it never refuses a patient. The banner comes from the process's cached licences
(:mod:`.cache`) and a usage figure cached for :data:`USAGE_SECONDS`.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

from guahao.tenants.cache import TtlCache
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext

from .cache import city_licences
from .service import LimitUsage, describe, limit_usage, overage

log = logging.getLogger("guahao.licensing")

USAGE_SECONDS = 600.0
STILL_WORKS = ("已有预约、取消、就诊签到、退款、导出和本控制台照常可用，数据不会被删除。",
               "Existing bookings, cancellation, check-in, refunds, exports and this console keep working; "
               "no data is deleted.")
LIMIT_NAMES = {"max_hospitals": ("医院", "hospitals"), "max_bookings_per_month": ("本月预约", "bookings this month"),
               "channels": ("未授权渠道", "channels not licensed")}


@dataclass(frozen=True)
class Banner:
    """One banner: ``level`` (info, warning, danger), the licence ``state``, the sentence in
    both languages and, when a limit is exceeded, the overage line in both."""

    level: str
    state: str
    zh: str = ""
    en: str = ""
    overage_zh: str = ""
    overage_en: str = ""

    def text(self, lang: str | None) -> str:
        return self.en if (lang or "").startswith("en") else self.zh

    def overage_text(self, lang: str | None) -> str:
        return self.overage_en if (lang or "").startswith("en") else self.overage_zh


def banner_for(status: dict) -> Banner | None:
    """The banner of a licence status (:func:`.service.describe`, with ``overage`` when known)."""
    state = status["state"]
    until, grace_until, days, grace_left = (status.get("valid_until"), status.get("grace_until"),
                                            status.get("days_left"), status.get("grace_days_left"))
    zh = en = ""
    level = "info"
    if state == "expiring":
        level = "warning"
        zh = f"本市预约服务授权将于 {until} 到期（还剩 {days} 天），请联系平台厂商续期。"
        en = f"This city's licence ends on {until} ({days} days left). Please ask the vendor to renew it."
    elif state == "grace":
        level = "warning"
        zh = (f"本市预约服务授权已于 {until} 到期，宽限期还剩 {grace_left} 天（至 {grace_until}）。"
              "宽限期结束后将暂停受理新的预约，请尽快续期。")
        en = (f"This city's licence ended on {until}; {grace_left} days of grace are left (until {grace_until}). "
              "After that no new bookings will be taken. Please renew it soon.")
    elif state == "restricted" and status.get("reason") == "no_licence":
        level = "danger"
        zh = "本市尚未安装有效的预约服务授权，所有渠道暂停受理新的预约。" + STILL_WORKS[0] + "请联系平台厂商获取授权。"
        en = ("This city has no valid licence installed: no new bookings are taken on any channel. "
              + STILL_WORKS[1] + " Please ask the vendor for a licence.")
    elif state == "restricted":
        level = "danger"
        zh = (f"本市预约服务授权已于 {until} 到期，宽限期（至 {grace_until}）已结束，所有渠道暂停受理新的预约。"
              + STILL_WORKS[0] + "请联系平台厂商续期。")
        en = (f"This city's licence ended on {until} and its grace (until {grace_until}) is over: no new bookings "
              "are taken on any channel. " + STILL_WORKS[1] + " Please ask the vendor to renew it.")
    elif state == "not_yet_valid":
        level = "danger"
        zh = (f"本市预约服务授权自 {status.get('valid_from')} 起生效，在此之前所有渠道暂停受理新的预约。"
              + STILL_WORKS[0])
        en = (f"This city's licence starts on {status.get('valid_from')}: until then no new bookings are taken on "
              "any channel. " + STILL_WORKS[1])
    elif state == "unlicensed":
        zh = "本市尚未安装预约服务授权（未授权运行），新的预约照常受理。请联系平台厂商获取授权。"
        en = "This city runs unlicensed: no licence is installed. Bookings are taken as usual; please ask the vendor for one."
    over = status.get("overage") or []
    overage_zh, overage_en = _overage_lines(over)
    if not zh and not overage_zh:
        return None
    if not zh:
        level = "warning"
    return Banner(level, state, zh, en, overage_zh, overage_en)


def _overage_lines(over: list[dict]) -> tuple[str, str]:
    if not over:
        return "", ""
    zh_parts, en_parts = [], []
    for item in over:
        zh_name, en_name = LIMIT_NAMES.get(item["limit"], (item["limit"], item["limit"]))
        if item["limit"] == "channels":
            zh_parts.append(f"{zh_name} {'、'.join(item['over'])}")
            en_parts.append(f"{en_name}: {', '.join(item['over'])}")
        else:
            zh_parts.append(f"{zh_name} {item['used']}/{item['allowed']}")
            en_parts.append(f"{en_name} {item['used']}/{item['allowed']}")
    return (
        "超出授权限额：" + "；".join(zh_parts) + "。患者预约不受影响，超出部分按合同计费。",
        "Over the licence's limits: " + "; ".join(en_parts) + ". Patients are not affected; the overage is billed "
        "per contract.",
    )


_usage: weakref.WeakKeyDictionary[Any, TtlCache[LimitUsage]] = weakref.WeakKeyDictionary()


async def staff_banner(rt, city: CityContext | None) -> Banner | None:
    """The banner for the city's console pages (``None``: nothing to say). Never raises: a
    console page shows without a banner rather than fail."""
    if city is None:
        return None
    try:
        licences = await city_licences(rt, city)
        now = utcnow()
        state, current = licences.state(now, city)
        status = describe(city, licences, now)
        if current is not None and _limited(current.document.limits):
            cache = _usage.setdefault(rt, TtlCache(USAGE_SECONDS))
            usage = await cache.get((city.id, f"{state.today:%Y-%m}"), lambda: limit_usage(rt, city, state.today))
            status["overage"] = overage(current.document.limits, usage)
        return banner_for(status)
    except Exception:  # the page matters more than its banner
        log.exception("city %s: the licence banner could not be made", getattr(city, "slug", "?"))
        return None


def _limited(limits) -> bool:
    return limits.max_hospitals is not None or limits.max_bookings_per_month is not None or limits.channels is not None
