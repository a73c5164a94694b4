"""The back office's refusals: stable codes and zh-CN sentences saying what to do instead.

Status codes follow ``core.booking.errors``: 404 for what does not exist or lies outside the
caller's hospital (the same answer, so ids of other hospitals reveal nothing), 403 for a
role's limits, 409 for states and rules, 422 for malformed input.
"""

from __future__ import annotations

from datetime import date

from guahao.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed


class Missing(NotFound):
    """``thing`` does not exist, or not in the caller's hospital."""

    def __init__(self, thing: str, code: str = "not_found"):
        DomainError.__init__(self, code, f"未找到该{thing}，请核对后重试。")


def invalid(field: str, message: str, code: str = "invalid_input") -> ValidationFailed:
    return ValidationFailed(code, message, details={"field": field})


def below_booked(pool: str, booked: int, wanted: int) -> Conflict:
    return Conflict(
        "capacity_below_booked",
        f"号源数不能少于已预约数：该号源池已预约 {booked} 个，不能调整为 {wanted} 个。",
        details={"pool": pool, "booked": booked, "capacity": wanted},
    )


def session_over(session_id: int) -> Conflict:
    return Conflict(
        "session_over", "该出诊已结束，不能停诊或调班。", details={"session_id": session_id}
    )


def session_changed(session_id: int, status: str) -> Conflict:
    return Conflict(
        "session_already_changed",
        "该出诊已停诊或已调班，不能再做其他调整；如需恢复，请新建出诊。",
        details={"session_id": session_id, "session_status": status},
    )


def target_unavailable(session_id: int, status: str) -> Conflict:
    return Conflict(
        "target_unavailable",
        "调班的目标出诊已停诊或取消，请选择其他日期或医生。",
        details={"target_session_id": session_id, "session_status": status},
    )


def target_in_past(day: date) -> ValidationFailed:
    return ValidationFailed(
        "target_in_past", "调班的新时间已过，请选择今后的日期。", details={"field": "new_date", "date": day.isoformat()}
    )


def same_session() -> ValidationFailed:
    return ValidationFailed(
        "same_session", "新的出诊时间与原出诊相同，请选择其他日期、时段或医生。", details={"field": "new_date"}
    )


def not_own_session(doctor_id: int) -> Forbidden:
    return Forbidden(
        "not_own_session", "诊间预约只能预约本人今后的出诊。", details={"doctor_id": doctor_id}
    )


def not_a_centre(hospital_id: int) -> Forbidden:
    return Forbidden(
        "not_a_community_centre", "只有社区卫生服务中心可以转诊预约。", details={"centre_id": hospital_id}
    )


def template_overlap(template_id: int) -> Conflict:
    return Conflict(
        "template_overlap",
        "该医生在同一星期、同一时段已有生效的出诊模板，请先停用或修改原模板。",
        details={"template_id": template_id},
    )


def nothing_to_release(pool: str) -> Conflict:
    return Conflict(
        "nothing_to_release", "该号源池没有可释放的剩余号源。", details={"pool": pool}
    )


class TooManyChecks(DomainError):
    """Identity checks of one member failed too often: the next try waits (no guessing the
    last 4 digits of an ID number by trying them all)."""

    status = 429

    def __init__(self, retry_after: int):
        super().__init__(
            "identity_check_locked",
            f"该来电人身份核验失败次数过多，请 {max(1, retry_after // 60)} 分钟后再试",
            details={"retry_after_seconds": retry_after},
        )
