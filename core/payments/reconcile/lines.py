"""Statement rows as :class:`StatementLine`: a provider's own lines pass through; the rows the
WeChat Pay and Alipay providers hand back (dicts of their bill columns) are mapped here.

- WeChat Pay trade bill rows (``bill_type=ALL``): ``trade_state`` ``SUCCESS`` is a payment
  (``transaction_id``, ``out_trade_no``, ``total``); ``REFUND`` (or a row with a
  ``refund_id`` other than ``0``) a refund (``refund_id``, ``out_refund_no``, ``refund_amount``,
  ``refund_status``). Times are Beijing time.
- Alipay trade statement rows: ``kind`` ``payment``/``refund``, ``trade_no``,
  ``out_trade_no``, ``out_request_no``, ``amount_fen``, ``finished_at`` (Beijing time); the
  statement lists only completed trades and refunds.
- Any other mapping with the fields of :class:`StatementLine`.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from guahao.core.plugins.interfaces import StatementLine

BEIJING = timezone(timedelta(hours=8))
WECHAT_PAYMENT_STATES = {"SUCCESS": "paid", "REVOKED": "closed", "CLOSED": "closed", "PAYERROR": "failed"}
WECHAT_REFUND_STATES = {"SUCCESS": "refunded", "PROCESSING": "pending", "CLOSED": "failed", "ABNORMAL": "failed"}


class UnreadableLine(ValueError):
    """A statement row that is neither a :class:`StatementLine` nor a known provider's row."""


def _time(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=BEIJING)
    text = str(text or "").strip()
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=BEIJING)


def _fen(value: Any) -> int:
    try:
        return abs(int(value or 0))
    except (TypeError, ValueError) as exc:
        raise UnreadableLine(f"not an amount in fen: {value!r}") from exc


def _wechatpay(row: Mapping[str, Any]) -> StatementLine:
    refund = str(row.get("trade_state", "")).upper() == "REFUND" or str(row.get("refund_id") or "0") != "0"
    booking = str(row.get("booking_id") or "")
    if refund:
        state = str(row.get("refund_status", "")).upper()
        return StatementLine(
            kind="refund", provider_ref=str(row.get("refund_id") or ""), our_ref=str(row.get("out_trade_no") or ""),
            amount_fen=_fen(row.get("refund_amount") or row.get("refund_requested")),
            status=WECHAT_REFUND_STATES.get(state, state.lower() or "refunded"), at=_time(row.get("trade_time")),
            booking_id=booking, refund_ref=str(row.get("out_refund_no") or ""),
        )
    state = str(row.get("trade_state", "")).upper()
    return StatementLine(
        kind="payment", provider_ref=str(row.get("transaction_id") or ""), our_ref=str(row.get("out_trade_no") or ""),
        amount_fen=_fen(row.get("total") or row.get("settlement_total")),
        status=WECHAT_PAYMENT_STATES.get(state, state.lower()), at=_time(row.get("trade_time")), booking_id=booking,
    )


def _alipay(row: Mapping[str, Any]) -> StatementLine | None:
    kind = str(row.get("kind") or "payment")
    if kind not in ("payment", "refund"):  # another business type (a transfer, a fee): not a booking's
        return None
    return StatementLine(
        kind=kind, provider_ref=str(row.get("trade_no") or ""), our_ref=str(row.get("out_trade_no") or ""),
        amount_fen=_fen(row.get("amount_fen")), status="refunded" if kind == "refund" else "paid",
        at=_time(row.get("finished_at") or row.get("created_at")), booking_id=str(row.get("booking_id") or ""),
        refund_ref=str(row.get("out_request_no") or "") if kind == "refund" else "",
    )


def _generic(row: Mapping[str, Any]) -> StatementLine:
    try:
        return StatementLine(
            kind=str(row["kind"]), provider_ref=str(row.get("provider_ref") or ""), our_ref=str(row.get("our_ref") or ""),
            amount_fen=_fen(row.get("amount_fen")), status=str(row.get("status") or ""), at=_time(row.get("at")),
            booking_id=str(row.get("booking_id") or ""), refund_ref=str(row.get("refund_ref") or ""),
        )
    except KeyError as exc:
        raise UnreadableLine(f"a statement row without {exc}") from exc


def to_line(row: StatementLine | Mapping[str, Any]) -> StatementLine | None:
    """One statement row as a :class:`StatementLine` (see the module's list of shapes);
    ``None`` for an Alipay row of another business type than a trade or a refund."""
    if isinstance(row, StatementLine):
        return row
    if not isinstance(row, Mapping):
        raise UnreadableLine(f"a statement row of type {type(row).__name__}")
    line: StatementLine | None
    if "trade_state" in row or "transaction_id" in row:
        line = _wechatpay(row)
    elif "trade_no" in row and "out_trade_no" in row:
        line = _alipay(row)
    else:
        line = _generic(row)
    if line is not None and line.kind not in ("payment", "refund"):
        raise UnreadableLine(f"a statement row of kind {line.kind!r}")
    return line


def to_lines(rows: Iterable[StatementLine | Mapping[str, Any]]) -> list[StatementLine]:
    """Every row of a statement as a :class:`StatementLine`."""
    return [line for line in (to_line(row) for row in rows) if line is not None]
