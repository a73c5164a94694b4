"""Request and response models of API v1: handlers validate with them, OpenAPI is made of them.

Request bodies are strict (JSON types as declared, no unknown fields); query parameters are
strings by nature and converted. Text that reaches the database may not carry control
characters (PostgreSQL refuses NUL).

Every rule a value must meet is in the document as JSON Schema (length, ``pattern``) and is
enforced here with the same expression, so a value the document allows is accepted and one it
forbids is refused. The few rules JSON Schema cannot state (an ID number's check digit and
real birth date) are named by a ``format`` and described.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, GetJsonSchemaHandler
from pydantic_core import core_schema as cs

from guahao.core.catalogue.places import VisitPlace
from guahao.core.errors import DomainError
from guahao.core.feedback.complaints import CATEGORIES as COMPLAINT_CATEGORIES
from guahao.core.members.ids import PROVINCES

INT32_MAX = 2_147_483_647


def _integral(value: Any) -> Any:
    """JSON Schema counts 4.0 as an integer; so does the API (4.5 and "4" stay refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Id = Annotated[int, Field(ge=1, le=INT32_MAX), BeforeValidator(_integral)]
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _iso_date(value: Any) -> Any:
    """A query date is YYYY-MM-DD (not a timestamp, which the lax parser would also read)."""
    if isinstance(value, str) and not re.fullmatch(DATE_PATTERN, value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


QueryDate = Annotated[date, BeforeValidator(_iso_date)]


def _printable(value: str) -> str:
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise ValueError("control characters are not allowed")
    return value


# ECMA-262 and Python's re read these patterns alike (\uXXXX escapes, no look-arounds, no \s
# where the two differ). They are anchored, and the API matches the whole value (fullmatch), so
# Python's "$ before a final line break" lets nothing through that JSON Schema would refuse.
PRINTABLE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f]*$"
_LETTER = r"A-Za-z\u3400-\u4db5\u4e00-\u9fa5"
_DOT = r"\u00b7\u2022\u30fb\u2027\u2219\uff0e"  # the middle dot and the look-alikes people type
NAME_PATTERN = rf"^[{_LETTER}]+(?: *[{_DOT}] *[{_LETTER}]+| +[{_LETTER}]+)*$"
NAME_MIN, NAME_MAX = 2, 30
PHONE_PATTERN = r"^(?:\+86)?[ -]?1[3-9](?:[ -]?[0-9]){9}$"
_PROVINCES = "|".join(str(code) for code in sorted(PROVINCES))
_BIRTH = "(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
ID_NUMBER_PATTERN = rf"^(?:{_PROVINCES})[0-9]{{4}}{_BIRTH}[0-9]{{3}}[0-9Xx]$"
ID_NUMBER_FORMAT = "gb11643"
PASSWORD_PATTERN = r"^(?:[\s\S]*[A-Za-z][\s\S]*[0-9]|[\s\S]*[0-9][\s\S]*[A-Za-z])[\s\S]*$"
PASSWORD_MIN, PASSWORD_MAX = 8, 128


class Documented:
    """JSON Schema keywords added to a field's schema (what its validators enforce)."""

    def __init__(self, **keywords: Any):
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, schema: cs.CoreSchema, handler: GetJsonSchemaHandler) -> dict:
        out = handler(schema)
        out.update(self.keywords)
        return out


def _rule(pattern: str, code: str, field: str, message: str, lengths: tuple[int, int] | None = None):
    """A validator refusing a value outside ``pattern`` (and ``lengths``) with a stable ``code``
    (422, ``details.field``): the same refusal the rule's owner in core gives, where it has one."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if (lengths and not lengths[0] <= len(value) <= lengths[1]) or not compiled.fullmatch(value):
            raise DomainError(code, message, status=422, details={"field": field})
        return value

    return AfterValidator(check)


Text = Annotated[str, AfterValidator(_printable), Documented(pattern=PRINTABLE_PATTERN)]
# Several lines of text with something to read: tabs and line breaks allowed, other control
# characters not, and at least one character that is not white space (Python's str.isspace).
_CONTROL_BUT_LINES = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
_BLANK = r"\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
PARAGRAPHS_PATTERN = rf"^[^{_CONTROL_BUT_LINES}]*[^{_BLANK}][^{_CONTROL_BUT_LINES}]*$"
Paragraphs = Annotated[
    str,
    _rule(PARAGRAPHS_PATTERN, "missing_text", "text", "请填写内容（不能只有空白或控制字符）"),
    Documented(pattern=PARAGRAPHS_PATTERN),
]
LINES_PATTERN = rf"^[^{_CONTROL_BUT_LINES}]*$"
Lines = Annotated[
    str,
    _rule(LINES_PATTERN, "validation_error", "comment", "内容不能含控制字符"),
    Documented(pattern=LINES_PATTERN),
]
BOOKING_REF_PATTERN = r"^[A-Za-z0-9_-]{1,24}$"
Name = Annotated[
    str,
    _rule(NAME_PATTERN, "invalid_name", "name", f"姓名应为{NAME_MIN}到{NAME_MAX}个字：汉字或字母，少数民族姓名可用“·”分隔",
          (NAME_MIN, NAME_MAX)),
    Documented(pattern=NAME_PATTERN, minLength=NAME_MIN, maxLength=NAME_MAX),
]
IdNumber = Annotated[
    str,
    _rule(ID_NUMBER_PATTERN, "invalid_id_number", "id_number", "身份证号码应为18位：地区代码、出生日期、顺序码和校验位"),
    Documented(pattern=ID_NUMBER_PATTERN, format=ID_NUMBER_FORMAT, minLength=18, maxLength=18),
]
Phone = Annotated[
    str,
    _rule(PHONE_PATTERN, "invalid_phone", "phone", "手机号码应为11位中国大陆手机号"),
    Documented(pattern=PHONE_PATTERN),
]
Password = Annotated[
    str,
    _rule(PASSWORD_PATTERN, "weak_password", "password", f"密码应为{PASSWORD_MIN}到{PASSWORD_MAX}位，需同时包含字母和数字",
          (PASSWORD_MIN, PASSWORD_MAX)),
    Documented(pattern=PASSWORD_PATTERN, minLength=PASSWORD_MIN, maxLength=PASSWORD_MAX),
]
CHANNELS = ("app", "web", "h5", "wechat", "kiosk", "sms", "ivr", "phone")


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Query(BaseModel):
    """Query parameters. ``one_of_required`` names parameters of which at least one must be
    given: the document groups them into one form-exploded object parameter whose schema says so
    (JSON Schema cannot say it of separate parameters)."""

    model_config = ConfigDict(extra="ignore")
    one_of_required: ClassVar[tuple[str, ...]] = ()
    one_of_required_name: ClassVar[str] = ""
    one_of_required_description: ClassVar[str] = ""


# ---- requests -------------------------------------------------------------------------------


class RegisterRequest(Body):
    """实名注册 (real-name registration)."""

    name: Name = Field(description="真实姓名：2–30 个汉字或字母，少数民族姓名用“·”分隔 (invalid_name)",
                       examples=["张伟"])
    id_number: IdNumber = Field(
        description="居民身份证号码 (GB 11643-1999, 18 位)：地区代码、出生日期（1900-01-01 至今天）、顺序码和"
                    "校验位 (ISO 7064 MOD 11-2)；format gb11643 即这些规则 (invalid_id_number)",
        examples=["11010519491231002X"],
    )
    phone: Phone = Field(description="中国大陆手机号，可带 +86，数字间可有一个空格或连字符 (invalid_phone)",
                         examples=["13800138000"])
    password: Password = Field(description="密码：8–128 位，同时含字母 (A–Z, a–z) 和数字 (weak_password)",
                               examples=["secret123"])


class TokenRequest(Body):
    """登录 (login by phone or ID number)."""

    login: Text = Field(max_length=64, description="手机号码或身份证号码 phone or ID number",
                        examples=["13800138000"])
    password: str = Field(max_length=128, examples=["secret123"])


class RefreshRequest(Body):
    """换取新令牌 (exchange a refresh token)."""

    refresh_token: str = Field(min_length=1, max_length=200, description="登录或上次刷新时得到的刷新令牌")


class RevokeRequest(Body):
    """注销刷新令牌 (RFC 7009)."""

    token: str = Field(min_length=1, max_length=2048, description="要注销的刷新令牌")
    token_type_hint: Literal["refresh_token", "access_token"] | None = None


class BookingRequest(Body):
    """预约一个时段 (book one period)."""

    period_id: Id = Field(description="时段 id from /availability", examples=[101])
    channel: Literal[CHANNELS] = Field("app", description="预约渠道 booking channel")  # type: ignore[valid-type]


class CancelRequest(Body):
    reason: Text = Field("", max_length=300, description="取消原因 (optional)", examples=["行程有变"])


class WaitlistRequest(Body):
    """候补一个已约满的出诊 (queue for a full session)."""

    session_id: Id = Field(description="出诊 id from /availability", examples=[42])


class ComplaintRequest(Body):
    """投诉 (a complaint about a hospital, optionally about one of the member's bookings there)."""

    hospital_id: Id = Field(description="被投诉的医院 id", examples=[1])
    category: Literal[COMPLAINT_CATEGORIES] = Field(  # type: ignore[valid-type]
        description="类别：服务 service、候诊 waiting、诊疗 medical、收费 fees、环境 environment、预约 booking、其他 other",
        examples=["waiting"],
    )
    text: Paragraphs = Field(max_length=2000, description="投诉内容，可分行 (missing_text)",
                             examples=["候诊两个小时没有人说明原因。"])
    booking_id: str | None = Field(None, pattern=BOOKING_REF_PATTERN,
                                   description="相关预约号（须为本人在该医院的预约）", examples=["GHK5QX2M7RB4TZAW3C"])


Rating = Annotated[int, Field(ge=1, le=5), BeforeValidator(_integral)]


class SurveyRequest(Body):
    """满意度调查 (one per checked-in visit, within 7 days after it)."""

    overall: Rating = Field(description="总体满意度 1–5", examples=[5])
    waiting: Rating = Field(description="候诊时间 1–5", examples=[4])
    attitude: Rating = Field(description="医生态度 1–5", examples=[5])
    comment: Lines = Field("", max_length=1000, description="意见（可选，可分行）", examples=["医生讲解很耐心。"])


class HospitalQuery(Query):
    district_id: Id | None = Field(None, description="区县 id (see /districts)")


class DoctorQuery(Query):
    hospital_id: Id | None = Field(None, description="医院 id")
    department_id: Id | None = Field(None, description="科室 id")
    q: Text | None = Field(None, max_length=50, description="医生姓名或擅长 name or specialty contains")
    limit: int = Field(200, ge=1, le=500, description="最多返回条数")
    offset: int = Field(0, ge=0, le=100_000, description="跳过条数")


class AvailabilityQuery(Query):
    one_of_required: ClassVar[tuple[str, ...]] = ("department_id", "doctor_id")
    one_of_required_name: ClassVar[str] = "filter"
    one_of_required_description: ClassVar[str] = (
        "科室或医生：department_id 与 doctor_id 至少给出一个，作为普通查询参数发送 "
        "(form, explode: ?department_id=3 or ?doctor_id=7 or both; neither → 422 missing_filter)"
    )

    department_id: Id | None = Field(None, description="科室 id")
    doctor_id: Id | None = Field(None, description="医生 id")
    date_from: QueryDate | None = Field(None, description="起始日期 YYYY-MM-DD (default today; earlier dates count from today)")
    date_to: QueryDate | None = Field(None, description="结束日期 YYYY-MM-DD (limited to the booking window; "
                                                    "before date_from: no sessions)")


class BookingListQuery(Query):
    scope: Literal["all", "upcoming", "past", "cancelled"] = Field("all", description="范围")


# ---- responses ------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine code, e.g. slot_full", examples=["not_found"])
    message: str = Field(description="给人看的说明 (zh-CN)", examples=["医院 not found"])
    details: Any = Field(None, description="machine-readable facts: field errors, limits, dates")


class ErrorResponse(BaseModel):
    """Every 4xx answer: ``{"error": {"code", "message", "details"?}}``."""

    error: ErrorBody


class MemberOut(BaseModel):
    id: int = Field(examples=[1])
    name: str = Field(examples=["张伟"])
    id_number_masked: str = Field(examples=["1101**********002X"])
    phone: str = Field(examples=["13800138000"])


class TokenOut(BaseModel):
    access_token: str = Field(examples=["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2ln"])
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="访问令牌有效秒数 seconds the access token lives", examples=[900])
    refresh_token: str = Field(description="刷新令牌：只能用一次，换得新的访问令牌和刷新令牌",
                               examples=["kD3o9fQm2Yx7p1vS0bWcHnTzR8aEuLgJ4iKqNd6MyXo"])
    refresh_expires_in: int = Field(description="刷新令牌有效秒数 seconds the refresh token lives",
                                    examples=[2592000])


class ComplaintOut(BaseModel):
    id: int = Field(examples=[5])
    hospital_id: int = Field(examples=[1])
    booking_id: str | None = Field(examples=["GHK5QX2M7RB4TZAW3C"])
    category: str = Field(examples=["waiting"])
    text: str = Field(examples=["候诊两个小时没有人说明原因。"])
    status: Literal["submitted", "replied", "closed"] = Field(
        description="submitted 已提交 → replied 医院已答复 → closed 已办结")
    reply: str = Field(description="医院的答复（结果反馈），未答复时为空", examples=[""])
    replied_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ComplaintList(BaseModel):
    items: list[ComplaintOut]


class OpenSurvey(BaseModel):
    booking_id: str = Field(examples=["GHK5QX2M7RB4TZAW3C"])
    hospital_id: int
    department_id: int
    doctor_id: int
    date: date
    closes_at: datetime = Field(description="此后不能再评价 (visit end + 7 days)")


class OpenSurveyList(BaseModel):
    items: list[OpenSurvey]


class SurveyOut(BaseModel):
    id: int
    booking_id: str
    overall: int = Field(ge=1, le=5)
    waiting: int = Field(ge=1, le=5)
    attitude: int = Field(ge=1, le=5)
    comment: str
    created_at: datetime


class PaymentLink(BaseModel):
    """How the member pays a held booking (no money has moved yet)."""

    booking_id: str = Field(examples=["GHK5QX2M7RB4TZAW3C"])
    provider: str = Field(description="支付渠道 payment provider", examples=["wechatpay"])
    amount_fen: int = Field(description="应付金额（分）", examples=[5000])
    online: bool = Field(description="false: 到院支付 (paid at the hospital)")
    instructions: str = Field(description="给会员的说明 (zh-CN)", examples=["请在 15 分钟内完成支付"])
    redirect_url: str | None = Field(description="支付页面：在浏览器中打开 (the provider's page)")
    qr_url: str | None = Field(description="扫码支付的内容（有则展示为二维码）")
    hold_expires_at: datetime | None = Field(description="须在此前支付，否则号源释放")


class PaymentState(BaseModel):
    """Where a booking's payment stands."""

    id: str = Field(description="预约号", examples=["GHK5QX2M7RB4TZAW3C"])
    status: str = Field(description="预约状态：pending_payment 待支付, confirmed 已确认, expired 超时未付…",
                        examples=["pending_payment"])
    payment_status: str = Field(description="支付状态：none 无需在线支付, pending 待支付, paid 已支付, refunded 已退款…",
                                examples=["paid"])
    fee_fen: int = Field(description="挂号费（分）", examples=[5000])
    hold_expires_at: datetime | None


class RevokedOut(BaseModel):
    revoked: Literal[True] = True


class DistrictOut(BaseModel):
    id: int
    code: str = Field(examples=["01"])
    name: str = Field(examples=["东城区"])


class DistrictList(BaseModel):
    items: list[DistrictOut]


class HospitalOut(BaseModel):
    id: int = Field(examples=[1])
    code: str = Field(examples=["H001"])
    name: str = Field(examples=["示例市第一人民医院"])
    short_name: str = Field(examples=["市一院"])
    kind: Literal["general", "specialty", "community"]
    kind_name: str = Field(examples=["综合医院"])
    level: int = Field(ge=1, le=3, examples=[3])
    grade: str = Field(examples=["甲"])
    level_name: str = Field(examples=["三级甲等"])
    district_id: int | None
    district_name: str | None = Field(examples=["东城区"])
    address: str
    phone: str
    payment_mode: Literal["at_hospital", "online"]


class HospitalList(BaseModel):
    items: list[HospitalOut]


class CampusOut(BaseModel):
    id: int
    name: str = Field(examples=["本部"])
    address: str


class RegistrationTypeOut(BaseModel):
    code: str = Field(examples=["expert"])
    name: str = Field(examples=["专家"])
    fee_fen: int = Field(examples=[5000])


class HospitalDetail(HospitalOut):
    description: str
    campuses: list[CampusOut]
    registration_types: list[RegistrationTypeOut]


class DepartmentOut(BaseModel):
    id: int = Field(examples=[3])
    hospital_id: int
    code: str = Field(description="《医疗机构诊疗科目名录》 code", examples=["03.01"])
    name: str = Field(examples=["呼吸内科"])
    description: str
    doctor_count: int


class DepartmentList(BaseModel):
    items: list[DepartmentOut]


class DoctorOut(BaseModel):
    id: int = Field(examples=[7])
    hospital_id: int
    hospital_name: str = Field(examples=["示例市第一人民医院"])
    department_id: int
    department_name: str = Field(examples=["呼吸内科"])
    name: str = Field(examples=["王建国"])
    title: Literal["chief", "associate_chief", "attending", "resident"]
    title_name: str = Field(examples=["主任医师"])
    specialty: str = Field(examples=["哮喘、慢阻肺"])
    photo_url: str


class DoctorDetail(DoctorOut):
    introduction: str


class DoctorList(BaseModel):
    items: list[DoctorOut]


class PeriodAvailability(BaseModel):
    period_id: int = Field(examples=[101])
    start: str = Field(pattern=r"^\d{2}:\d{2}$", examples=["08:00"])
    end: str = Field(pattern=r"^\d{2}:\d{2}$", examples=["08:30"])
    remaining: int = Field(ge=0, description="剩余公众号源 remaining public units", examples=[3])


class SessionAvailability(BaseModel):
    session_id: int = Field(examples=[42])
    doctor_id: int
    doctor_name: str
    doctor_title: str
    hospital_id: int
    department_id: int
    date: date
    half_day: Literal["am", "pm", "evening"]
    registration_type: str = Field(examples=["expert"])
    registration_type_name: str = Field(examples=["专家"])
    fee_fen: int = Field(examples=[5000])
    released: bool = Field(description="false: slots open at release_at (放号时间)")
    release_at: datetime
    campus: VisitPlace = Field(description="就诊院区 where the session is held: its campus")
    periods: list[PeriodAvailability]


class AvailabilityList(BaseModel):
    items: list[SessionAvailability]
