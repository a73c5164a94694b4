"""WeChat Pay trade bills (交易账单, ``GET /v3/bill/tradebill``): the file's format, read into rows.

The file is CSV-like text: a header line of Chinese column names, one line per transaction or
refund with every field prefixed by a backtick (`` ` ``), then a summary header (``总交易单数``…)
and its one line of totals. Amounts are yuan with two decimals; rows come back with integer fen.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation

# The columns of bill_type=ALL, in WeChat Pay's order, and the names rows use.
COLUMNS = {
    "交易时间": "trade_time",
    "公众账号ID": "appid",
    "商户号": "mchid",
    "特约商户号": "sub_mchid",
    "设备号": "device_id",
    "微信订单号": "transaction_id",
    "商户订单号": "out_trade_no",
    "用户标识": "openid",
    "交易类型": "trade_type",
    "交易状态": "trade_state",
    "付款银行": "bank_type",
    "货币种类": "currency",
    "应结订单金额": "settlement_total",
    "代金券金额": "coupon_amount",
    "微信退款单号": "refund_id",
    "商户退款单号": "out_refund_no",
    "退款金额": "refund_amount",
    "充值券退款金额": "coupon_refund_amount",
    "退款类型": "refund_type",
    "退款状态": "refund_status",
    "商品名称": "description",
    "商户数据包": "attach",
    "手续费": "fee",
    "费率": "rate",
    "订单金额": "total",
    "申请退款金额": "refund_requested",
    "费率备注": "rate_note",
}
AMOUNTS = frozenset({"settlement_total", "coupon_amount", "refund_amount", "coupon_refund_amount", "fee", "total",
                     "refund_requested"})
SUMMARY_FIRST = "总交易单数"


class BadBill(ValueError):
    """The file is not a trade bill."""


def fen(text: str) -> int:
    """``"50.00"`` → 5000."""
    try:
        return int((Decimal(text or "0") * 100).to_integral_value())
    except InvalidOperation as exc:
        raise BadBill(f"not an amount: {text!r}") from exc


def _clean(value: str) -> str:
    value = value.strip()
    return value[1:] if value.startswith("`") else value


def parse_trade_bill(text: str) -> tuple[list[dict], dict]:
    """The bill's rows (amounts in fen) and its summary (``orders``, ``settlement_total``,
    ``refund_total``, ``fee_total`` … in fen); raises :class:`BadBill`."""
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    lines = [line for line in lines if any(cell.strip() for cell in line)]
    if not lines:
        raise BadBill("empty bill")
    header = [cell.strip() for cell in lines[0]]
    unknown = [name for name in header if name not in COLUMNS]
    if "商户订单号" not in header or unknown:
        raise BadBill(f"unknown columns: {unknown[:3]}" if unknown else "no 商户订单号 column")
    names = [COLUMNS[name] for name in header]
    rows: list[dict] = []
    summary: dict = {}
    body = lines[1:]
    for index, line in enumerate(body):
        if line and line[0].strip() == SUMMARY_FIRST:
            summary = _summary(line, body[index + 1] if index + 1 < len(body) else [])
            break
        if len(line) != len(names):
            raise BadBill(f"line {index + 2} has {len(line)} fields, not {len(names)}")
        row = {name: _clean(value) for name, value in zip(names, line, strict=True)}
        for name in AMOUNTS & row.keys():
            row[name] = fen(row[name])
        rows.append(row)
    return rows, summary


SUMMARY = {"总交易单数": "orders", "应结订单总金额": "settlement_total", "退款总金额": "refund_total",
           "充值券退款总金额": "coupon_refund_total", "手续费总金额": "fee_total", "订单总金额": "total",
           "申请退款总金额": "refund_requested_total"}


def _summary(header: list[str], values: list[str]) -> dict:
    out: dict = {}
    for name, value in zip(header, values, strict=False):
        key = SUMMARY.get(name.strip())
        if key:
            out[key] = int(_clean(value) or 0) if key == "orders" else fen(_clean(value))
    return out


def format_trade_bill(rows: list[dict]) -> str:
    """A trade bill in WeChat Pay's format (used by fakes and demos): rows with the names of
    :data:`COLUMNS` and amounts in fen."""
    def cell(name: str, value) -> str:
        if name in AMOUNTS:
            value = f"{Decimal(int(value or 0)) / 100:.2f}"
        return f"`{value if value is not None else ''}"

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(list(COLUMNS))
    for row in rows:
        writer.writerow([cell(name, row.get(name, "")) for name in COLUMNS.values()])
    paid = [r for r in rows if r.get("trade_state") == "SUCCESS"]
    writer.writerow(list(SUMMARY))
    totals = {
        "orders": len(rows),
        "settlement_total": sum(int(r.get("settlement_total") or 0) for r in paid),
        "refund_total": sum(int(r.get("refund_amount") or 0) for r in rows),
        "coupon_refund_total": 0,
        "fee_total": sum(int(r.get("fee") or 0) for r in rows),
        "total": sum(int(r.get("total") or 0) for r in paid),
        "refund_requested_total": sum(int(r.get("refund_requested") or 0) for r in rows),
    }
    writer.writerow([f"`{totals['orders']}", *(f"`{Decimal(totals[k]) / 100:.2f}" for k in list(SUMMARY.values())[1:])])
    return out.getvalue()
