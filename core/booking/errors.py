"""The booking engine's refusals: stable codes, zh-CN sentences that say what to do next.

Clients switch on ``code``; ``details`` carries the facts behind the refusal (limits, dates)
so a channel can phrase its own message. Statuses: 404 for unknown things, 403 for refusals
tied to the member (credit, pool), 409 for rules and states, 422 for malformed input.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from guahao.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed


class BookingNotFound(NotFound):
    """Something the caller named does not exist (or is not theirs: same answer)."""

    def __init__(self, thing: str = "预约"):
        DomainError.__init__(self, "not_found", f"未找到该{thing}，请核对后重试。")


def local_text(at: datetime, tz: tzinfo) -> str:
    """A UTC instant as people of the city read it: 2025年03月01日 18:00."""
    return at.astimezone(tz).strftime("%Y年%m月%d日 %H:%M")


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def slot_full(period_id: int) -> Conflict:
    return Conflict(
        "slot_full", "该时段号源已约满，请选择其他时段或加入候补。", details={"period_id": period_id}
    )


def duplicate_session(session_id: int | None) -> Conflict:
    return Conflict(
        "duplicate_session",
        "您已预约了该医生的本次出诊，同一出诊只能预约一个号，请查看“我的预约”。",
        details={"session_id": session_id},
    )


def try_again() -> Conflict:
    """The new booking's reference was already in use (a one-in-millions draw): nothing was
    written and the same request succeeds when sent again."""
    return Conflict("try_again", "预约未能完成，请重新提交一次（号源未被占用）。")


def too_many_active(limit: int, active: int) -> Conflict:
    return Conflict(
        "too_many_active",
        f"您已有 {active} 个未就诊的预约，最多可同时持有 {limit} 个；请先就诊或取消已有预约后再预约。",
        details={"limit": limit, "active": active},
    )


def credit_suspended(until: datetime, reason: str, tz: tzinfo) -> Forbidden:
    return Forbidden(
        "credit_suspended",
        f"因爽约，您的预约资格暂停至 {local_text(until, tz)}，届时可再次预约。",
        details={"suspended_until": _iso(until), "reason": reason},
    )


def not_released(release_at: datetime) -> Conflict:
    return Conflict(
        "outside_window",
        "该出诊的号源尚未开放，请在放号时间之后再预约。",
        details={"release_at": _iso(release_at), "reason": "not_released"},
    )


def past_cutoff(cutoff: datetime) -> Conflict:
    return Conflict(
        "outside_window",
        "该时段已停止预约，请选择更晚的时段或其他医生。",
        details={"booking_closes_at": _iso(cutoff), "reason": "closed"},
    )


def session_unavailable(status: str) -> Conflict:
    return Conflict(
        "session_unavailable",
        "该出诊已停诊或取消，暂不能预约，请选择其他医生或日期。",
        details={"session_status": status},
    )


def pool_not_allowed(pool: str, channel: str) -> Forbidden:
    return Forbidden(
        "pool_not_allowed",
        "该号源仅供医院现场、诊间或转诊使用，请通过公开号源预约。",
        details={"pool": pool, "channel": channel},
    )


def cancel_too_late(deadline: datetime) -> Conflict:
    return Conflict(
        "cancel_too_late",
        "已过取消截止时间，不能在线取消；如不能就诊，请联系医院。",
        details={"cancel_deadline": _iso(deadline)},
    )


def invalid_state(status: str, action: str) -> Conflict:
    return Conflict(
        "invalid_state",
        "该预约当前的状态不能进行此操作，请刷新后查看预约详情。",
        details={"status": status, "action": action},
    )


def waitlist_not_full(session_id: int) -> Conflict:
    return Conflict(
        "waitlist_not_full",
        "该出诊仍有可预约的号源，请直接预约，无需候补。",
        details={"session_id": session_id},
    )


def already_waiting(session_id: int) -> Conflict:
    return Conflict(
        "already_waiting", "您已在该出诊的候补队列中，有号源时会通知您。", details={"session_id": session_id}
    )


def offer_expired(booking_id: str, deadline: datetime | None) -> Conflict:
    return Conflict(
        "offer_expired",
        "候补号源的确认时间已过，号源已转给下一位候补者；您可以重新加入候补。",
        details={"booking_id": booking_id, "offer_expires_at": _iso(deadline)},
    )


def extra_rule(code: str) -> Forbidden:
    return Forbidden(
        code, "本次预约不符合本市的预约规定，请联系客服或选择其他号源。", details={"rule": code}
    )


def invalid_scope(scope: str, allowed: tuple[str, ...]) -> ValidationFailed:
    return ValidationFailed(
        "invalid_scope",
        f"不支持的查询范围，请使用以下之一：{'、'.join(allowed)}。",
        details={"scope": scope, "allowed": list(allowed)},
    )


def hold_expired(booking_id: str, deadline: datetime | None) -> Conflict:
    return Conflict(
        "hold_expired",
        "该预约的支付时间已过，号源已释放；如已付款，费用将原路退回。请重新预约。",
        details={"booking_id": booking_id, "hold_expires_at": _iso(deadline)},
    )


def no_payment_provider() -> Conflict:
    return Conflict("no_payment_provider", "本市暂未开通在线支付，请联系医院或选择其他医院。")


def amount_mismatch(booking_id: str, expected_fen: int, paid_fen: int) -> Conflict:
    return Conflict(
        "amount_mismatch",
        "支付金额与挂号费不符，该笔支付未被接受。",
        details={"booking_id": booking_id, "expected_fen": expected_fen, "paid_fen": paid_fen},
    )
