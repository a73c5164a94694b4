"""The refusals of in-clinic fee payment, each with a stable code and a sentence for the member."""

from __future__ import annotations

from guahao.core.errors import Conflict, DomainError, NotFound


class FeeOrderNotFound(NotFound):
    """No such fee order of this member (another member's order gets the same answer)."""

    def __init__(self) -> None:
        DomainError.__init__(self, "not_found", "未找到该缴费订单，请核对后重试。")


def no_fee_items() -> Conflict:
    return Conflict("no_fee_items", "请至少选择一项待缴费用。")


def fee_items_changed(missing: list[str]) -> Conflict:
    return Conflict(
        "fee_items_changed",
        "所选费用已有变化（可能已在医院窗口缴纳或已被撤销），请刷新后重新选择。",
        details={"items": missing},
    )


def fees_unavailable() -> Conflict:
    return Conflict("fees_unavailable", "医院系统暂时无法查询待缴费用，请稍后再试或到医院收费窗口缴费。")


def fee_order_closed(status: str) -> Conflict:
    return Conflict("fee_order_closed", "该缴费订单已结束，不能再支付。", details={"status": status})
