"""Request and response models of API v1: handlers validate with them, OpenAPI is made of them.

Request bodies are strict (JSON types as declared, no unknown fields); query parameters are
strings by nature and converted. Text that reaches the database may not carry control
characters (PostgreSQL refuses NUL).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from guahao.core.catalogue.places import VisitPlace

INT32_MAX = 2_147_483_647
Id = Annotated[int, Field(ge=1, le=INT32_MAX)]


def _printable(value: str) -> str:
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise ValueError("control characters are not allowed")
    return value


Text = Annotated[str, AfterValidator(_printable)]
CHANNELS = ("app", "web", "h5", "wechat", "kiosk", "sms", "ivr", "phone")


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- requests -------------------------------------------------------------------------------


class RegisterRequest(Body):
    """实名注册 (real-name registration)."""

    name: Text = Field(max_length=64, description="真实姓名 real name", examples=["张伟"])
    id_number: Text = Field(max_length=64, description="居民身份证号码 (18 位) PRC resident ID number",
                            examples=["11010519491231002X"])
    phone: Text = Field(max_length=32, description="手机号码 mobile number", examples=["13800138000"])
    password: str = Field(max_length=128, description="密码：至少 8 位，含字母和数字", examples=["secret123"])


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


class HospitalQuery(Query):
    district_id: Id | None = Field(None, description="区县 id (see /districts)")


class DoctorQuery(Query):
    hospital_id: Id | None = Field(None, description="医院 id")
    department_id: Id | None = Field(None, description="科室 id")
    q: Text | None = Field(None, max_length=50, description="医生姓名或擅长 name or specialty contains")
    limit: int = Field(200, ge=1, le=500, description="最多返回条数")
    offset: int = Field(0, ge=0, le=100_000, description="跳过条数")


class AvailabilityQuery(Query):
    department_id: Id | None = Field(None, description="科室 id (department_id 或 doctor_id 至少一个)")
    doctor_id: Id | None = Field(None, description="医生 id")
    date_from: date | None = Field(None, description="起始日期 YYYY-MM-DD (default today)")
    date_to: date | None = Field(None, description="结束日期 YYYY-MM-DD (limited to the booking window)")


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
