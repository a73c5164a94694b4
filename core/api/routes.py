"""Public JSON API v1: every operation declared in one list, mounted at ``/api/v1``.

The city is the first path segment (``/api/v1/{city}/…``), resolved by the tenant
middleware; ``/api/v1/openapi.json`` and ``/api/v1/docs`` describe the whole API.
"""

from __future__ import annotations

import functools

from pydantic import BaseModel

from guahao.core.booking.credit import CreditStatus
from guahao.core.booking.views import BookingView, WaitlistView
from guahao.core.members.throttle import LoginThrottle, MemoryLoginThrottle

from . import bookings, catalogue, feedback, members
from .operations import ErrorCase as E
from .operations import Link, Operation, path_routes
from .schemas import (
    AvailabilityList,
    AvailabilityQuery,
    BookingListQuery,
    BookingRequest,
    CancelRequest,
    ComplaintList,
    ComplaintOut,
    ComplaintRequest,
    DepartmentList,
    DistrictList,
    DoctorDetail,
    DoctorList,
    DoctorQuery,
    HospitalDetail,
    HospitalList,
    HospitalQuery,
    MemberOut,
    OpenSurveyList,
    PaymentLink,
    PaymentState,
    RefreshRequest,
    RegisterRequest,
    RevokedOut,
    RevokeRequest,
    SurveyOut,
    SurveyRequest,
    TokenOut,
    TokenRequest,
    WaitlistRequest,
)


class MeOut(MemberOut):
    credit: CreditStatus


class BookingList(BaseModel):
    items: list[BookingView]


class WaitlistList(BaseModel):
    items: list[WaitlistView]


_BOOKING_RULES = (
    E(404, "not_found", "时段不存在 (unknown period)"),
    E(409, "slot_full", "该时段已约满，可加入候补"),
    E(409, "duplicate_session", "同一出诊只能预约一个号 (R3.1)"),
    E(409, "try_again", "预约号恰与已有预约重复（极少发生），未写入任何内容，请重新提交"),
    E(409, "too_many_active", "未就诊预约数已达上限 (R3.2)"),
    E(409, "outside_window", "未到放号时间或已过预约截止时间 (R3.3)"),
    E(409, "session_unavailable", "出诊已停诊或取消"),
    E(403, "credit_suspended", "因爽约暂停预约资格 (R4.3)"),
    E(403, "pool_not_allowed", "该号源不对公众开放"),
    E(422, "idempotency_key_reused", "同一 Idempotency-Key 用于了不同的请求"),
    E(422, "invalid_channel", "预约渠道无效"),
)


_CITY = ("city", "$request.path.city")
_THE_BOOKING = (_CITY, ("booking_id", "$response.body#/id"))
BOOKING_LINKS = (
    Link("GetBooking", "get_booking", _THE_BOOKING, "读取刚创建的预约 (its id is the booking reference)"),
    Link("StartPayment", "start_payment", _THE_BOOKING, "在线支付待支付的预约 (status pending_payment)"),
    Link("GetPayment", "get_payment", _THE_BOOKING, "查询支付结果"),
    Link("CancelBooking", "cancel_booking", _THE_BOOKING, "取消刚创建的预约"),
    Link("AcceptOffer", "accept_offer", _THE_BOOKING, "确认候补号源（预约状态为 offered 时）"),
)
WAITLIST_LINKS = (
    Link("LeaveWaitlist", "leave_waitlist", (_CITY, ("entry_id", "$response.body#/id")), "退出刚加入的候补"),
)
TOKEN_LINKS = (
    Link("GetMe", "get_me", (_CITY, ("header.Authorization", "Bearer {$response.body#/access_token}")),
         "用得到的访问令牌读取本人资料"),
)


def operations(throttle: LoginThrottle) -> list[Operation]:
    """API v1, in the order the documentation shows it."""
    return [
        *_member_operations(throttle),
        *_catalogue_operations(),
        *_booking_operations(),
        *_payment_operations(),
        *_waitlist_operations(),
        *_complaint_operations(),
        *_survey_operations(),
    ]


def _member_operations(throttle: LoginThrottle) -> list[Operation]:
    """Registration, login (limited by ``throttle``) and the member's own profile."""
    return [
        Operation(
            "POST", "/{city}/members", members.register_member, "register_member",
            "实名注册 Register a member", "会员 Members", MemberOut, status=201, body=RegisterRequest,
            limits=("register_ip",),
            description="姓名、居民身份证号码（GB 11643 校验）、手机号和密码。身份证号加密保存，只返回掩码。",
            errors=(
                E(422, "invalid_name", "姓名须为 2–30 个汉字或字母"),
                E(422, "invalid_id_number", "身份证号码无效：长度、地区码、出生日期或校验位 (details.reason)"),
                E(422, "invalid_phone", "手机号须为 11 位中国大陆手机号"),
                E(422, "weak_password", "密码至少 8 位，须同时包含字母和数字"),
                E(409, "member_exists", "该身份证号或手机号已注册"),
            ),
        ),
        Operation(
            "POST", "/{city}/auth/token", functools.partial(members.issue_token, throttle=throttle), "issue_token",
            "登录获取令牌 Log in (bearer token)", "会员 Members", TokenOut, body=TokenRequest, limits=("login_ip",),
            links=TOKEN_LINKS,
            description=(
                "login 可为手机号或身份证号（末位 X 不区分大小写）。令牌只在本城市平台有效。"
                "访问令牌短期有效 (expires_in)，到期前后用 refresh_token 调用 /auth/refresh 换取新令牌。"
            ),
            errors=(
                E(401, "invalid_credentials", "登录名或密码不正确"),
                E(429, "too_many_attempts", "同一登录名连续失败 5 次，锁定 15 分钟 (Retry-After)"),
            ),
        ),
        Operation(
            "POST", "/{city}/auth/refresh", members.refresh_token, "refresh_token",
            "刷新令牌 Refresh the access token", "会员 Members", TokenOut, body=RefreshRequest, links=TOKEN_LINKS,
            description=(
                "用刷新令牌换取新的访问令牌和新的刷新令牌；旧刷新令牌随即作废（轮换）。"
                "已用过的刷新令牌再次出现时，该次登录得到的全部刷新令牌都被注销 (reason=reused)。"
                "会员退出登录或修改密码后，此前的访问令牌和刷新令牌均失效。"
            ),
            errors=(
                E(401, "invalid_refresh_token",
                  "刷新令牌无效、已过期、已注销或已被使用 (details.reason: invalid, expired, revoked, reused)"),
            ),
        ),
        Operation(
            "POST", "/{city}/auth/revoke", members.revoke_token, "revoke_token",
            "注销令牌 Revoke a refresh token", "会员 Members", RevokedOut, body=RevokeRequest,
            description=(
                "RFC 7009：注销刷新令牌及其轮换得到的全部刷新令牌。未知的令牌同样答 200。"
                "访问令牌无法单独注销，到期（expires_in）即失效。"
            ),
        ),
        Operation(
            "GET", "/{city}/me", members.me, "get_me", "我的资料与信用 My profile and credit",
            "会员 Members", MeOut, auth=True,
        ),
    ]


def _catalogue_operations() -> list[Operation]:
    """Public catalogue reads: districts, hospitals, departments, doctors and availability."""
    return [
        Operation(
            "GET", "/{city}/districts", catalogue.districts, "list_districts", "区县 Districts",
            "号源 Catalogue", DistrictList,
        ),
        Operation(
            "GET", "/{city}/hospitals", catalogue.hospitals, "list_hospitals", "医院列表 Hospitals",
            "号源 Catalogue", HospitalList, query=HospitalQuery, limits=("search_ip",),
        ),
        Operation(
            "GET", "/{city}/hospitals/{hospital_id}", catalogue.hospital, "get_hospital",
            "医院详情 Hospital", "号源 Catalogue", HospitalDetail,
        ),
        Operation(
            "GET", "/{city}/hospitals/{hospital_id}/departments", catalogue.departments, "list_departments",
            "医院科室 Departments of a hospital", "号源 Catalogue", DepartmentList,
        ),
        Operation(
            "GET", "/{city}/doctors", catalogue.doctors, "list_doctors", "医生 Doctors",
            "号源 Catalogue", DoctorList, query=DoctorQuery, limits=("search_ip",),
            description="按医院、科室筛选；q 匹配姓名或擅长。",
        ),
        Operation(
            "GET", "/{city}/doctors/{doctor_id}", catalogue.doctor, "get_doctor", "医生详情 Doctor",
            "号源 Catalogue", DoctorDetail,
        ),
        Operation(
            "GET", "/{city}/availability", catalogue.availability, "get_availability",
            "号源余量 Availability", "号源 Catalogue", AvailabilityList, query=AvailabilityQuery, limits=("search_ip",),
            description=(
                "已放号的出诊及其各时段剩余公众号源 (remaining = capacity − booked)；"
                "即将放号的出诊以 released=false 和 release_at 列出。日期限于预约周期内。"
            ),
            errors=(
                E(422, "missing_filter", "department_id 与 doctor_id 至少给出一个"),
            ),
        ),
    ]


def _booking_operations() -> list[Operation]:
    """A member's bookings: book, list, read, cancel, and accept a waitlist offer."""
    return [
        Operation(
            "POST", "/{city}/bookings", bookings.book, "create_booking", "预约挂号 Book a period",
            "预约 Bookings", BookingView, status=201, body=BookingRequest, auth=True, idempotency=True,
            limits=("book_member", "book_ip"), limits_in_handler=True,
            description=(
                "到院支付的医院直接 confirmed；需在线支付的为 pending_payment，请在 hold_expires_at 前支付。"
                "带 Idempotency-Key 重试同一请求时返回首次的结果（响应头 Idempotent-Replayed: true）。"
                "城市启用的插件可附加预约规则：不符合时答 403，code 为该规则的名称 (details.rule)。"
            ),
            errors=_BOOKING_RULES, links=BOOKING_LINKS,
        ),
        Operation(
            "GET", "/{city}/bookings", bookings.list_bookings, "list_bookings", "我的预约 My bookings",
            "预约 Bookings", BookingList, query=BookingListQuery, auth=True,
        ),
        Operation(
            "GET", "/{city}/bookings/{booking_id}", bookings.get_booking, "get_booking",
            "预约详情 A booking of mine", "预约 Bookings", BookingView, auth=True,
        ),
        Operation(
            "POST", "/{city}/bookings/{booking_id}/cancel", bookings.cancel_booking, "cancel_booking",
            "取消预约 Cancel a booking", "预约 Bookings", BookingView, body=CancelRequest, body_optional=True,
            auth=True,
            errors=(
                E(409, "cancel_too_late", "已过取消截止时间 (R3.4)"),
                E(409, "invalid_state", "该预约当前状态不能取消"),
            ),
        ),
        Operation(
            "POST", "/{city}/bookings/{booking_id}/accept", bookings.accept_offer, "accept_offer",
            "接受候补号源 Accept a waitlist offer", "预约 Bookings", BookingView, auth=True,
            errors=(
                E(409, "offer_expired", "候补号源的确认时间已过"),
                E(409, "invalid_state", "该预约不是待确认的候补号源"),
            ),
        ),
    ]


def _payment_operations() -> list[Operation]:
    """Paying a held booking online and reading the outcome."""
    return [
        Operation(
            "POST", "/{city}/bookings/{booking_id}/payment", bookings.start_payment, "start_payment",
            "支付挂号费 Pay a held booking", "预约 Bookings", PaymentLink, auth=True,
            description=(
                "为待支付 (pending_payment) 的预约发起在线支付，返回支付页面 redirect_url 或扫码内容 qr_url。"
                "再次调用得到同一笔支付。支付后渠道把会员带回患者网站的预约页面；App 用 GET …/payment 查询结果。"
            ),
            errors=(
                E(409, "hold_expired", "已超过支付期限，号源已释放"),
                E(409, "invalid_state", "该预约不是待支付状态"),
                E(409, "no_payment_provider", "本市未开通在线支付"),
                E(402, "payment_unavailable", "支付渠道暂不可用，请稍后再试"),
                E(402, "phone_required", "话费支付需要登记的中国大陆手机号"),
                E(402, "phone_not_served", "手机号不属于该运营商，无法用话费支付"),
            ),
        ),
        Operation(
            "GET", "/{city}/bookings/{booking_id}/payment", bookings.payment_status, "get_payment",
            "支付状态 Payment status of a booking", "预约 Bookings", PaymentState, auth=True,
            description="待支付且已发起支付的预约，先向支付渠道核实一次（回调可能尚未到达）。",
        ),
    ]


def _waitlist_operations() -> list[Operation]:
    """A member's waitlist places: join, list and leave."""
    return [
        Operation(
            "POST", "/{city}/waitlist", bookings.join_waitlist, "join_waitlist", "加入候补 Join a waitlist",
            "预约 Bookings", WaitlistView, status=201, body=WaitlistRequest, auth=True,
            limits=("book_member", "book_ip"), links=WAITLIST_LINKS,
            errors=(
                E(404, "not_found", "出诊不存在 (unknown session)"),
                E(409, "waitlist_not_full", "仍有号源，请直接预约"),
                E(409, "already_waiting", "已在候补队列中"),
                E(409, "duplicate_session", "已预约该出诊"),
                E(409, "session_unavailable", "出诊已停诊或取消"),
                E(409, "outside_window", "未到放号时间或已截止"),
                E(403, "credit_suspended", "因爽约暂停预约资格"),
            ),
        ),
        Operation(
            "GET", "/{city}/waitlist", bookings.list_waitlist, "list_waitlist", "我的候补 My waitlist places",
            "预约 Bookings", WaitlistList, auth=True,
        ),
        Operation(
            "DELETE", "/{city}/waitlist/{entry_id}", bookings.leave_waitlist, "leave_waitlist",
            "退出候补 Leave a waitlist", "预约 Bookings", WaitlistView, auth=True,
            errors=(E(409, "invalid_state", "该候补已结束，无需退出"),),
        ),
    ]


def _complaint_operations() -> list[Operation]:
    """A member's complaints (公众投诉): file one, list them, read one with the hospital's reply."""
    return [
        Operation(
            "POST", "/{city}/complaints", feedback.submit_complaint, "submit_complaint", "投诉 File a complaint",
            "投诉 Complaints", ComplaintOut, status=201, body=ComplaintRequest, auth=True,
            description="投诉转交被投诉的医院处理；医院的答复（结果反馈）见 reply，办结后 status 为 closed。",
            links=(Link("GetComplaint", "get_complaint", (_CITY, ("complaint_id", "$response.body#/id")),
                        "读取刚提交的投诉及其答复"),),
            errors=(
                E(404, "not_found", "医院不存在，或 booking_id 不是本人的预约"),
                E(409, "booking_mismatch", "所选预约不属于该医院"),
                E(422, "missing_text", "投诉内容不能只有空白"),
            ),
        ),
        Operation(
            "GET", "/{city}/complaints", feedback.list_complaints, "list_complaints", "我的投诉 My complaints",
            "投诉 Complaints", ComplaintList, auth=True, description="最近 50 条，新的在前。",
        ),
        Operation(
            "GET", "/{city}/complaints/{complaint_id}", feedback.get_complaint, "get_complaint",
            "投诉详情 A complaint of mine", "投诉 Complaints", ComplaintOut, auth=True,
        ),
    ]


def _survey_operations() -> list[Operation]:
    """Satisfaction surveys (满意度调查) of the member's visits."""
    return [
        Operation(
            "GET", "/{city}/surveys", feedback.open_surveys, "list_open_surveys", "待评价的就诊 Visits to survey",
            "评价 Surveys", OpenSurveyList, auth=True,
            description="已到院就诊、7 天内且尚未评价的预约，新的在前。",
        ),
        Operation(
            "POST", "/{city}/bookings/{booking_id}/survey", feedback.submit_survey, "submit_survey",
            "评价一次就诊 Survey a visit", "评价 Surveys", SurveyOut, status=201, body=SurveyRequest, auth=True,
            errors=(
                E(403, "not_checked_in", "只有已到院就诊的预约才能评价"),
                E(409, "already_surveyed", "这次就诊已评价过"),
                E(409, "survey_closed", "就诊 7 天后不能再评价 (details.closed_at)"),
            ),
        ),
    ]


def api_routes() -> list:
    """Routes mounted at ``/api/v1``: the operations, the OpenAPI document and the API page."""
    from .docs import docs_routes

    ops = operations(MemoryLoginThrottle())
    return [*docs_routes(ops), *path_routes(ops)]
