"""The catalogue spreadsheet: its sheets, their columns, and how a cell becomes a value.

Headers are what an operator's spreadsheet says in Chinese (``医院编码``); English headers
(``hospital_code``) are accepted too. Enumerations take the Chinese label (``主任医师``) or
the stored value (``chief``). A blank optional cell means the model's default, so a row
states the whole record and an exported file imports back unchanged.

A parser gets the trimmed, non-empty text of a cell and returns the value or raises
:class:`Invalid` with a message code of :mod:`core.importing.messages`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from guahao.core.models import Campus, Department, District, Doctor, Hospital, RegistrationType


class Invalid(Exception):
    """A cell that does not parse: message ``code`` and its parameters."""

    def __init__(self, code: str, **params: Any):
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Column:
    """One column of a sheet.

    Parameters:
        field: the value's name in a parsed row (a model attribute, or ``*_code`` for a
            reference resolved when writing).
        header: the canonical (Chinese) header, used in exported files.
        aliases: other headers accepted, English first (the first alias is the English name).
        parse: text → value; raises :class:`Invalid`.
        required: a blank cell is an error, and the column must be present.
        max_length: longest text the database column takes.
        default: the value of a blank optional cell.
        code: an identifier; a number cell means the spreadsheet may have dropped leading
            zeros, so it is refused (format the column as text).
        label: value → the text written on export (enumerations use their Chinese label).
    """

    field: str
    header: str
    aliases: tuple[str, ...]
    parse: Callable[[str], Any]
    required: bool = False
    max_length: int | None = None
    default: Any = ""
    code: bool = False
    label: Callable[[Any], str] = str

    @property
    def english(self) -> str:
        return self.aliases[0]


@dataclass(frozen=True)
class Sheet:
    """A sheet (or one CSV file) of the import.

    Parameters:
        name: the sheet's English name, also the CSV file name (``doctors.csv``).
        title: its Chinese name, also accepted as the sheet or file name.
        aliases: further accepted names.
        columns: the columns, in export order.
        key: fields that identify a row (the natural key matched against the city's rows).
    """

    name: str
    title: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    model: type
    aliases: tuple[str, ...] = field(default=())

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.field == name)


def normalize_name(text: str) -> str:
    """Header / sheet name as compared: width-folded, lower-case, without spaces, ``_``,
    ``-``, ``*`` (a required marker) and brackets."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[\s_\-*()\[\]:：]", "", folded)


# --- parsers ------------------------------------------------------------------------------


def text(value: str) -> str:
    return value


CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._\-]*")


def code(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value).strip()
    if not CODE.fullmatch(folded):
        raise Invalid("bad_code")
    return folded


DEPARTMENT_CODE = re.compile(r"\d{2}(\.\d{2})?")
LOST_ZERO = re.compile(r"\d(\.\d{1,2})?")


def department_code(value: str) -> str:
    """A code of 《医疗机构诊疗科目名录》: two digits, or two digits, a dot and two digits."""
    folded = unicodedata.normalize("NFKC", value).strip()
    if DEPARTMENT_CODE.fullmatch(folded):
        return folded
    if LOST_ZERO.fullmatch(folded):
        raise Invalid("department_code_lost_zero")
    raise Invalid("bad_department_code")


def choice(labels: dict[str, str]) -> Callable[[str], str]:
    """An enumeration given by label (中文) or by value (English), case-insensitively."""
    accepted = {normalize_name(k): v for k, v in labels.items()}
    accepted.update({normalize_name(v): v for v in labels.values()})
    shown = "、".join(labels)

    def parse(value: str) -> str:
        try:
            return accepted[normalize_name(value)]
        except KeyError:
            raise Invalid("bad_choice", choices=shown) from None

    return parse


def labeller(labels: dict[str, str]) -> Callable[[Any], str]:
    names = {v: k for k, v in labels.items()}
    return lambda value: names.get(str(value), str(value))


LEVELS = {"一级": 1, "二级": 2, "三级": 3}


def level(value: str) -> int:
    folded = normalize_name(value).removesuffix("医院")
    if folded in ("1", "2", "3"):
        return int(folded)
    if folded in LEVELS:
        return LEVELS[folded]
    raise Invalid("bad_level")


GRADES = ("甲", "乙", "丙")


def grade(value: str) -> str:
    folded = normalize_name(value).removesuffix("等")
    if folded not in GRADES:
        raise Invalid("bad_grade")
    return folded


YUAN = re.compile(r"\d{1,6}(\.\d{1,2})?")


def fee_fen(value: str) -> int:
    """A fee in yuan with at most two decimals (``50``, ``50.00``, ``¥12.5``) → fen."""
    folded = unicodedata.normalize("NFKC", value).strip().lstrip("¥").removesuffix("元").replace(",", "").strip()
    if not YUAN.fullmatch(folded):
        raise Invalid("bad_fee")
    try:
        return int(Decimal(folded) * 100)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise Invalid("bad_fee") from None


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


PHONE = re.compile(r"[0-9+\-()（）\s,，、/转]+")


def phone(value: str) -> str:
    if not PHONE.fullmatch(value):
        raise Invalid("bad_phone")
    return value


# --- the sheets ---------------------------------------------------------------------------

KINDS = {"综合医院": "general", "专科医院": "specialty", "社区医疗机构": "community"}
PAYMENT_MODES = {"到院支付": "at_hospital", "在线支付": "online"}
TITLES = {"主任医师": "chief", "副主任医师": "associate_chief", "主治医师": "attending", "住院医师": "resident"}


def _hospital_ref() -> Column:
    return Column("hospital_code", "医院编码", ("hospital_code", "hospital"), code, required=True, max_length=40,
                  code=True)


DISTRICTS = Sheet(
    "districts", "区县",
    (
        Column("code", "区县编码", ("code", "district_code"), code, required=True, max_length=20, code=True),
        Column("name", "区县名称", ("name", "district_name", "区县", "名称"), text, required=True, max_length=100),
    ),
    key=("code",),
    model=District,
    aliases=("区县", "行政区", "district"),
)

HOSPITALS = Sheet(
    "hospitals", "医院",
    (
        Column("code", "医院编码", ("code", "hospital_code", "机构编码"), code, required=True, max_length=40,
               code=True),
        Column("name", "医院名称", ("name", "hospital_name", "机构名称"), text, required=True, max_length=200),
        Column("short_name", "简称", ("short_name", "医院简称"), text, max_length=60),
        Column("kind", "类别", ("kind", "医院类别", "机构类别"), choice(KINDS), default="general",
               label=labeller(KINDS)),
        Column("level", "级别", ("level", "医院级别", "等级"), level, default=3,
               label=lambda v: {1: "一级", 2: "二级", 3: "三级"}[int(v)]),
        Column("grade", "等次", ("grade", "医院等次"), grade, default="甲"),
        Column("district_code", "区县编码", ("district_code", "district", "所属区县编码"), code, max_length=20,
               default=None, code=True),
        Column("address", "地址", ("address", "医院地址"), text, max_length=300),
        Column("phone", "电话", ("phone", "联系电话"), phone, max_length=40),
        Column("payment_mode", "支付方式", ("payment_mode", "payment"), choice(PAYMENT_MODES),
               default="at_hospital", label=labeller(PAYMENT_MODES)),
        Column("description", "简介", ("description", "医院简介"), text, max_length=4000),
    ),
    key=("code",),
    model=Hospital,
    aliases=("医疗机构", "hospital"),
)

CAMPUSES = Sheet(
    "campuses", "院区",
    (
        _hospital_ref(),
        Column("name", "院区名称", ("name", "campus_name", "院区"), text, required=True, max_length=200),
        Column("address", "地址", ("address", "院区地址"), text, max_length=300),
    ),
    key=("hospital_code", "name"),
    model=Campus,
    aliases=("campus",),
)

DEPARTMENTS = Sheet(
    "departments", "科室",
    (
        _hospital_ref(),
        Column("code", "科室编码", ("code", "department_code", "诊疗科目代码", "诊疗科目编码"), department_code,
               required=True, max_length=20, code=True),
        Column("name", "科室名称", ("name", "department_name", "科室"), text, required=True, max_length=100),
        Column("description", "科室简介", ("description", "简介"), text, max_length=2000),
    ),
    key=("hospital_code", "code"),
    model=Department,
    aliases=("department",),
)

REGISTRATION_TYPES = Sheet(
    "registration_types", "号别",
    (
        _hospital_ref(),
        Column("code", "号别编码", ("code", "registration_type_code", "type_code"), code, required=True,
               max_length=20, code=True),
        Column("name", "号别名称", ("name", "registration_type_name", "号别"), text, required=True, max_length=40),
        Column("fee_fen", "挂号费（元）", ("fee_yuan", "fee", "挂号费", "挂号费元"), fee_fen, required=True,
               label=yuan),
    ),
    key=("hospital_code", "code"),
    model=RegistrationType,
    aliases=("挂号类别", "挂号费", "registration_type", "registrationtypes", "fees"),
)

DOCTORS = Sheet(
    "doctors", "医生",
    (
        _hospital_ref(),
        Column("department_code", "科室编码", ("department_code", "department", "诊疗科目代码"), department_code,
               required=True, max_length=20, code=True),
        Column("name", "医生姓名", ("name", "doctor_name", "姓名"), text, required=True, max_length=60),
        Column("title", "职称", ("title", "doctor_title"), choice(TITLES), default="attending",
               label=labeller(TITLES)),
        Column("specialty", "擅长", ("specialty", "专长"), text, max_length=300),
        Column("introduction", "简介", ("introduction", "医生简介", "intro"), text, max_length=4000),
    ),
    key=("hospital_code", "department_code", "name"),
    model=Doctor,
    aliases=("医师", "doctor"),
)

# In dependency order: a sheet refers only to sheets before it.
SHEETS: tuple[Sheet, ...] = (DISTRICTS, HOSPITALS, CAMPUSES, DEPARTMENTS, REGISTRATION_TYPES, DOCTORS)

_BY_NAME = {normalize_name(n): s for s in SHEETS for n in (s.name, s.title, *s.aliases)}


def sheet_named(name: str) -> Sheet | None:
    """The sheet a workbook sheet or CSV file name means (``医生``, ``doctors``), if any."""
    return _BY_NAME.get(normalize_name(name))
