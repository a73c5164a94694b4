"""The SMS grammar: what a member's text message asks for, read as people really type it.

A pure module (no database, no clock of its own): :func:`parse` takes the text and the city's
local date and returns one of :class:`Book`, :class:`Query`, :class:`Cancel`, :class:`Help`,
:class:`Choose`, :class:`OptOut` or :class:`Invalid` (what is wrong, and an example of the right
form).

Booking: ``预约*姓名*日期*医院*科室[*医生][*上午|下午]``. Fields are separated by ``*`` (also the
full-width ``＊`` and the small ``﹡``), spaces, commas (``，`` ``,``), ``#``, ``、`` or ``;``. The
date and the half-day are recognised wherever they stand, and a half-day may be glued to the
date (``明天上午``); the other fields are read in order: name, hospital, department, doctor.
Once the date is known, a field such as ``03.01`` is a department's code, not a second date.
Dates: ``12月9日`` ``12月9号`` ``12.9`` ``12-09`` ``12/9`` ``2026-12-09`` ``9号`` ``今天``
``明天`` ``后天`` ``大后天`` ``周三`` ``星期三`` ``礼拜三`` ``下周三``; a month and day already past
this year mean next year's. A doctor may be written with a title (``王主任``, ``王建国医生``);
``任意``/``不限`` leave the doctor open. ``查询`` lists the member's bookings, ``取消 <预约号>``
cancels one (the reference as it is typed: lower case, spaces, no hyphen), ``帮助`` explains,
a bare number (``2``) picks from the numbered choices of the last reply, and ``TD``/``退订``
(``订阅``) stops (resumes) the platform's non-essential messages.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

MAX_LENGTH = 300
EXAMPLE = "预约*张三*12月9日*市一院*呼吸内科*上午"

BOOK_WORDS = ("预约挂号", "预约", "挂号", "预定", "YY")
QUERY_WORDS = ("查询预约", "我的预约", "查询", "查看", "查", "CX")
CANCEL_WORDS = ("取消预约", "取消", "退号", "QX")
HELP_WORDS = ("帮助", "HELP", "BZ", "?", "？")
OPT_OUT_WORDS = ("TD", "T", "退订", "N", "STOP")
OPT_IN_WORDS = ("订阅", "恢复订阅", "DY")

HALF_DAYS = {
    "上午": "am", "早上": "am", "早晨": "am", "上": "am", "AM": "am", "A.M.": "am",
    "下午": "pm", "下": "pm", "PM": "pm", "P.M.": "pm", "午后": "pm",
    "晚上": "evening", "夜间": "evening", "晚间": "evening",
}
ANY_DOCTOR = ("任意", "不限", "都行", "随便", "任意医生", "不限医生", "any")
DOCTOR_TITLES = ("副主任医师", "主任医师", "主治医师", "住院医师", "副主任", "副教授", "主任", "教授",
                 "医生", "医师", "大夫", "专家")
WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "1": 0, "2": 1, "3": 2, "4": 3,
            "5": 4, "6": 5, "7": 6}
RELATIVE = {"今天": 0, "今日": 0, "明天": 1, "明日": 1, "后天": 2, "後天": 2, "大后天": 3}
REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"

_MONTH_DAY = re.compile(r"^(?:(\d{4})[年.\-/])?(\d{1,2})(?:月|[.\-/])(\d{1,2})(?:日|号)?$")
_DAY_ONLY = re.compile(r"^(\d{1,2})(?:日|号)$")
_WEEKDAY = re.compile(r"^(下下|下|本|这)?(?:周|星期|礼拜)([一二三四五六日天1-7])$")
_DATE_HALF = re.compile(r"^(.+?)(上午|下午|晚上|早上)$")
_DATE_LIKE = re.compile(r"\d+\s*[月日号]|^\d{1,2}[.\-/]\d{1,2}$|^(?:下|本|这)?(?:周|星期|礼拜).$|^[今明后大昨前]+[天日]$")
_CODE = re.compile(r"^\d{2}\.\d{2}$")  # a department's national code (03.01) once the date is known
_NAME = re.compile(r"^[\u3400-\u9fffA-Za-z·]{2,30}$")
_REF = re.compile(r"^[A-Z0-9]{10}$|^GH[A-Z2-7]{16}$")


@dataclass(frozen=True)
class Book:
    """A booking request: ``doctor`` empty for any doctor, ``half_day`` empty for either."""

    name: str
    day: date
    hospital: str
    department: str
    doctor: str = ""
    half_day: str = ""


@dataclass(frozen=True)
class Query:
    """List the member's upcoming bookings."""


@dataclass(frozen=True)
class Cancel:
    """Cancel the booking with this reference (normalised: ``7K4MQ-9XT2B``)."""

    ref: str


@dataclass(frozen=True)
class Help:
    """Explain the commands."""


@dataclass(frozen=True)
class OptOut:
    """Stop (``subscribe`` false: ``TD``/``退订``) or resume (``订阅``) non-essential messages."""

    subscribe: bool = False


@dataclass(frozen=True)
class Choose:
    """Pick choice ``number`` (1-based) of the numbered list the last reply sent."""

    number: int


@dataclass(frozen=True)
class Invalid:
    """A message that cannot be read: ``code`` (stable), ``problem`` (what is wrong, zh-CN) and
    ``example`` (a message of the right form)."""

    code: str
    problem: str
    example: str = EXAMPLE


Request = Book | Query | Cancel | Help | Choose | OptOut | Invalid


def normalise(text: str) -> str:
    """Full-width forms folded (``＊`` → ``*``, ``１２`` → ``12``, ``，`` stays a comma), the small
    asterisk and other stars made ``*``, surrounding space removed."""
    folded = unicodedata.normalize("NFKC", text or "")
    for star in ("﹡", "✱", "✲", "★", "☆", "⁎", "∗"):
        folded = folded.replace(star, "*")
    return folded.strip()


def split_fields(text: str) -> list[str]:
    """The fields of a message, split on any run of separators (never on ``.``, ``-`` or ``/``,
    which belong to dates)."""
    return [f for f in re.split(r"[*#,，、;；\s]+", text) if f]


def _take_command(fields: list[str]) -> tuple[str, list[str]]:
    """``(command, other fields)``; a command glued to the first field (``预约张三``) is split off."""
    if not fields:
        return "", []
    head = fields[0]
    upper = head.upper()
    for kind, words in (("cancel", CANCEL_WORDS), ("query", QUERY_WORDS), ("help", HELP_WORDS), ("book", BOOK_WORDS)):
        for word in words:
            if upper == word:
                return kind, fields[1:]
            if upper.startswith(word) and kind in ("book", "cancel") and len(head) > len(word):
                return kind, [head[len(word):], *fields[1:]]
    return "", fields


def parse_date(text: str, today: date) -> date | None:
    """The date ``text`` names, relative to ``today`` (the city's local date); ``None`` if it
    names none. A month and day already past this year mean next year's; a weekday means the
    first such day from today on (``下周三``: in the next week)."""
    value = text.strip().replace(" ", "")
    if value in RELATIVE:
        return today + timedelta(days=RELATIVE[value])
    if value in ("昨天", "前天"):
        return today - timedelta(days=1 if value == "昨天" else 2)
    m = _MONTH_DAY.match(value)
    if m:
        year, month, day = (int(g) if g else None for g in m.groups())
        try:
            found = date(year or today.year, month, day)  # type: ignore[arg-type]
        except ValueError:
            return None
        if year is None and found < today:
            try:
                found = date(today.year + 1, month, day)  # type: ignore[arg-type]
            except ValueError:
                return None
        return found
    m = _DAY_ONLY.match(value)
    if m:
        day = int(m.group(1))
        month, year = today.month, today.year
        if day < today.day:
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        try:
            return date(year, month, day)
        except ValueError:
            return None
    m = _WEEKDAY.match(value)
    if m:
        week, wanted = m.group(1) or "", WEEKDAYS[m.group(2)]
        if week in ("下", "下下"):
            monday = today - timedelta(days=today.weekday()) + timedelta(weeks=len(week))
            return monday + timedelta(days=wanted)
        if week in ("本", "这"):
            return today - timedelta(days=today.weekday()) + timedelta(days=wanted)
        return today + timedelta(days=(wanted - today.weekday()) % 7)
    return None


def _looks_like_date(text: str) -> bool:
    """Whether a field is meant as a date even though it names none (``13月40日``, ``周八``)."""
    return bool(_DATE_LIKE.search(text))


def _doctor(text: str) -> str:
    """The doctor's name without a title (``王建国主任`` → ``王建国``, ``王主任`` → ``王``);
    empty for "any doctor"."""
    if text.lower() in ANY_DOCTOR:
        return ""
    for title in DOCTOR_TITLES:
        if text.endswith(title) and len(text) > len(title):
            return text[: -len(title)]
    return text


def parse_ref(text: str) -> str | None:
    """A booking reference as typed (``7k4mq 9xt2b``, ``7K4MQ9XT2B``) made ``7K4MQ-9XT2B``;
    ``None`` when it cannot be one."""
    compact = re.sub(r"[\s\-‐‑‒–—―_.·]", "", text.upper())
    if not _REF.match(compact):
        return None
    if compact.startswith("GH") and len(compact) == 18:
        return compact
    if not all(c in REF_ALPHABET for c in compact):
        return None
    return f"{compact[:5]}-{compact[5:]}"


def parse(text: str, today: date) -> Request:
    """What the message ``text`` asks for, read on the city's local date ``today``."""
    value = normalise(text)
    if not value:
        return Invalid("empty", "短信内容为空。")
    if len(value) > MAX_LENGTH:
        return Invalid("too_long", f"短信内容过长（超过{MAX_LENGTH}字）。")
    if value.isdigit() and len(value) <= 2:
        return Choose(int(value))
    if value.upper() in OPT_OUT_WORDS or value in OPT_IN_WORDS:
        return OptOut(subscribe=value in OPT_IN_WORDS)
    command, fields = _take_command(split_fields(value))
    if command == "help":
        return Help()
    if command == "query":
        return Query()
    if command == "cancel":
        return _cancel(fields)
    if command == "book" or (not command and len(fields) >= 4):
        return _book(fields, today)
    return Invalid("unknown_command", f"未能识别“{value[:12]}”。")


def _cancel(fields: list[str]) -> Request:
    example = "取消 7K4MQ-9XT2B"
    if not fields:
        return Invalid("missing_ref", "取消预约请附上预约号。", example)
    ref = parse_ref("".join(fields))
    if ref is None:
        return Invalid("invalid_ref", f"预约号“{''.join(fields)[:20]}”格式不对，应为10位字母和数字。", example)
    return Cancel(ref)


def _book(fields: list[str], today: date) -> Request:
    half_days: set[str] = set()
    days: list[date] = []
    rest: list[str] = []
    for field in fields:
        glued = _DATE_HALF.match(field)
        if glued and glued.group(1) and parse_date(glued.group(1), today) is not None:
            field = glued.group(1)
            half_days.add(HALF_DAYS[glued.group(2)])
        if field.upper() in HALF_DAYS:
            half_days.add(HALF_DAYS[field.upper()])
            continue
        code = bool(days) and bool(_CODE.match(field))
        found = None if code else parse_date(field, today)
        if found is not None:
            days.append(found)
            continue
        if not code and _looks_like_date(field):
            return Invalid("invalid_date", f"日期“{field[:12]}”无法识别，可写作12月9日、12.9、明天或周三。")
        rest.append(field)
    if len(half_days) > 1:
        return Invalid("conflicting_half_day", "上午和下午只能选一个。")
    if len(days) > 1:
        return Invalid("two_dates", "一条短信只能写一个就诊日期。")
    if not days:
        return Invalid("missing_date", "缺少就诊日期（如12月9日、明天、周三）。")
    day = days[0]
    if day < today:
        return Invalid("past_date", f"就诊日期{day.month}月{day.day}日已过，请选择今天以后的日期。")
    if not rest:
        return Invalid("missing_name", "缺少就诊人姓名。")
    name, *others = rest
    if not _NAME.match(name):
        return Invalid("invalid_name", f"姓名“{name[:12]}”不对，应为2到30个汉字（就诊人的实名）。")
    if len(others) < 2:
        missing = "医院和科室" if not others else "科室"
        return Invalid("missing_fields", f"缺少{missing}。")
    if len(others) > 3:
        return Invalid("too_many_fields",
                       "内容多于要求的项目，请按顺序写：姓名、日期、医院、科室、医生（可省）、上午或下午（可省）。")
    hospital, department, *doctor = others
    return Book(name=name, day=day, hospital=hospital, department=department,
                doctor=_doctor(doctor[0]) if doctor else "", half_day=next(iter(half_days), ""))
