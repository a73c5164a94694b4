"""The dimensions reports group by, and how their keys become readable labels.

A dimension names the fact column the database groups by and, for those coarser than any
stored column (district; month and weekday, grouped by day), how group keys fold into its own
keys after the ``GROUP BY`` (a few hundred rows at most: cheaper than computing a month or a
weekday for every row). Labels are looked up once per report
for the keys present, in zh-CN and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models import Campus, Department, District, Doctor, Hospital

CHANNELS = {
    "web": ("网站", "Web"), "app": ("手机APP", "App"), "wechat": ("微信", "WeChat"), "sms": ("短信", "SMS"),
    "phone": ("电话", "Phone"), "kiosk": ("自助机", "Kiosk"), "agent": ("坐席代约", "Call centre"),
    "onsite": ("现场", "On site"), "clinic": ("诊间", "In clinic"), "referral": ("社区转诊", "Referral"),
}
POOLS = {"public": ("公共号源", "Public"), "onsite": ("现场号源", "On site"), "clinic": ("诊间号源", "In clinic"),
         "referral": ("转诊号源", "Referral")}
HALF_DAYS = {"am": ("上午", "Morning"), "pm": ("下午", "Afternoon"), "evening": ("晚上", "Evening")}
WEEKDAYS = {1: ("周一", "Mon"), 2: ("周二", "Tue"), 3: ("周三", "Wed"), 4: ("周四", "Thu"), 5: ("周五", "Fri"),
            6: ("周六", "Sat"), 7: ("周日", "Sun")}
COMPLAINT_STATUSES = {"submitted": ("待回复", "Awaiting reply"), "replied": ("已回复", "Replied"),
                      "closed": ("已办结", "Closed")}
COMPLAINT_CATEGORIES = {
    "service": ("服务态度", "Service"), "waiting": ("候诊时间", "Waiting"), "medical": ("医疗质量", "Medical care"),
    "fees": ("收费", "Fees"), "environment": ("就医环境", "Environment"), "booking": ("预约挂号", "Booking"),
    "other": ("其他", "Other"),
}


@dataclass(frozen=True)
class Dimension:
    """A way to group rows. ``column``: the fact column grouped by; ``kind`` decides how
    keys are computed in SQL and labelled (id, code, day, month, weekday, time)."""

    name: str
    zh: str
    en: str
    column: str
    kind: str = "id"
    codes: dict | None = None  # code → (zh, en) for kind "code"


DIMENSIONS = {d.name: d for d in (
    Dimension("hospital", "医院", "Hospital", "hospital_id"),
    Dimension("district", "区县", "District", "hospital_id", kind="district"),
    Dimension("campus", "院区", "Campus", "campus_id"),
    Dimension("department", "科室", "Department", "department_id"),
    Dimension("doctor", "医生", "Doctor", "doctor_id"),
    Dimension("centre", "转出机构", "Referring centre", "referral_centre_id"),
    Dimension("channel", "渠道", "Channel", "channel", kind="code", codes=CHANNELS),
    Dimension("pool", "号源池", "Pool", "pool", kind="code", codes=POOLS),
    Dimension("half_day", "午别", "Half-day", "half_day", kind="code", codes=HALF_DAYS),
    Dimension("time_period", "时段", "Time period", "period_start", kind="time"),
    Dimension("day", "日期", "Day", "day", kind="day"),
    Dimension("month", "月份", "Month", "day", kind="month"),
    Dimension("weekday", "星期", "Weekday", "day", kind="weekday", codes=WEEKDAYS),
    Dimension("status", "状态", "Status", "status", kind="code", codes=COMPLAINT_STATUSES),
    Dimension("category", "类别", "Category", "category", kind="code", codes=COMPLAINT_CATEGORIES),
)}
TIME_KINDS = ("day", "month", "weekday", "time")


def fold_key(dim: Dimension, key: Any, districts: dict[int, int | None]) -> Any:
    """The dimension's own key for a grouped key (a day → its month or weekday, a hospital →
    its district)."""
    if dim.kind in ("day", "month", "weekday") and isinstance(key, str):
        key = date.fromisoformat(key[:10])
    if dim.kind == "month":
        return key.strftime("%Y-%m")
    if dim.kind == "weekday":
        return key.isoweekday()
    if dim.kind == "district":
        return districts.get(key)
    return key


async def district_of_hospitals(s: AsyncSession, city_id: int) -> dict[int, int | None]:
    H = Hospital.__table__
    return dict((await s.execute(select(H.c.id, H.c.district_id).where(H.c.city_id == city_id))).all())


async def labels(s: AsyncSession, dim: Dimension, keys: list[Any], city_id: int) -> dict[Any, tuple[str, str]]:
    """zh-CN and English labels of ``keys``."""
    if dim.codes is not None:
        return {k: dim.codes.get(k, (str(k), str(k))) for k in keys}
    if dim.kind == "day":
        return {k: (k.isoformat(), k.isoformat()) for k in keys}
    if dim.kind == "month":
        return {k: (str(k), str(k)) for k in keys}
    if dim.kind == "time":
        return {k: (_hhmm(k), _hhmm(k)) for k in keys}
    ids = [k for k in keys if k]
    names: dict[Any, str] = {}
    if dim.kind == "district":
        t = District.__table__
        names = dict((await s.execute(select(t.c.id, t.c.name).where(t.c.city_id == city_id, t.c.id.in_(ids)))).all())
        missing = ("未划分区县", "No district")
    else:
        names = await _entity_names(s, dim.name, ids, city_id)
        missing = ("未登记", "Not recorded")
    return {k: (names[k], names[k]) if k in names else missing for k in keys}


def _hhmm(value: Any) -> str:
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)[:5]


async def _entity_names(s: AsyncSession, name: str, ids: list[int], city_id: int) -> dict[int, str]:
    H, C, D, Doc = Hospital.__table__, Campus.__table__, Department.__table__, Doctor.__table__
    short = func.coalesce(func.nullif(H.c.short_name, ""), H.c.name)
    if name in ("hospital", "centre"):
        q = select(H.c.id, H.c.name).where(H.c.id.in_(ids))
    elif name == "campus":
        q = select(C.c.id, short + " " + C.c.name).join(H, H.c.id == C.c.hospital_id).where(C.c.id.in_(ids))
    elif name == "department":
        q = select(D.c.id, short + " " + D.c.name).join(H, H.c.id == D.c.hospital_id).where(D.c.id.in_(ids))
    else:
        q = (select(Doc.c.id, Doc.c.name + "（" + short + " " + D.c.name + "）")
             .join(H, H.c.id == Doc.c.hospital_id).join(D, D.c.id == Doc.c.department_id).where(Doc.c.id.in_(ids)))
    return dict((await s.execute(q.where(H.c.city_id == city_id))).all())
