"""Alipay's trade statement (``bill_type=trade``): a zip of GBK-encoded CSV files, the
business detail (``…_业务明细.csv``) and its summary (``…_业务明细(汇总).csv``).

The detail file has comment lines starting with ``#`` around a header row and one row per
payment (业务类型 ``交易``) or refund (``退款``, negative amounts); cells carry trailing tabs
so spreadsheets keep long numbers as text. :func:`parse` reads the detail rows into dicts with
amounts in integer fen.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile

MAX_UNPACKED = 64 * 1024 * 1024
_SIGNED_YUAN = re.compile(r"^(-?)(\d{1,11})(?:\.(\d{1,2}))?$")

COLUMNS = {
    "支付宝交易号": "trade_no",
    "商户订单号": "out_trade_no",
    "业务类型": "type",
    "商品名称": "subject",
    "创建时间": "created_at",
    "完成时间": "finished_at",
    "对方账户": "buyer",
    "订单金额（元）": "amount",
    "商家实收（元）": "received",
    "退款批次号/请求号": "out_request_no",
    "服务费（元）": "service_fee",
    "备注": "remark",
}
KINDS = {"交易": "payment", "退款": "refund"}


class StatementUnreadable(ValueError):
    """The file is not an Alipay trade statement."""


def signed_fen(text: str) -> int:
    """``"-50.00"`` → ``-5000``; empty → 0."""
    text = (text or "").strip()
    if not text:
        return 0
    m = _SIGNED_YUAN.match(text)
    if not m:
        raise StatementUnreadable(f"not an amount: {text!r}")
    value = int(m.group(2)) * 100 + int((m.group(3) or "0").ljust(2, "0"))
    return -value if m.group(1) else value


def _detail(archive: zipfile.ZipFile) -> str:
    names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
    detail = [n for n in names if "汇总" not in _name(n)] or names
    if not detail:
        raise StatementUnreadable("the zip holds no CSV file")
    info = archive.getinfo(detail[0])
    if info.file_size > MAX_UNPACKED:
        raise StatementUnreadable("the statement is too large")
    return archive.read(info).decode("gbk")


def _name(name: str) -> str:
    # Names in the zip are GBK too, stored without the UTF-8 flag: zipfile reads them as cp437.
    try:
        return name.encode("cp437").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return name


def parse(data: bytes) -> list[dict]:
    """The detail rows of a statement zip: ``kind`` (``payment``/``refund``), ``trade_no``,
    ``out_trade_no``, ``out_request_no``, ``subject``, ``created_at``, ``finished_at``,
    ``amount_fen`` (positive; ``kind`` says which way), ``received_fen``, ``service_fee_fen``,
    ``remark``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise StatementUnreadable("not a zip file") from exc
    with archive:
        text = _detail(archive)
    rows = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        return []
    reader = csv.reader(rows)
    header = [cell.strip() for cell in next(reader)]
    if "商户订单号" not in header or "业务类型" not in header:
        raise StatementUnreadable("no header row of a trade statement")
    lines = []
    for cells in reader:
        raw = {COLUMNS[h]: cells[i].strip() for i, h in enumerate(header) if h in COLUMNS and i < len(cells)}
        kind = KINDS.get(raw.get("type", ""), raw.get("type", ""))
        lines.append({
            "kind": kind, "trade_no": raw.get("trade_no", ""), "out_trade_no": raw.get("out_trade_no", ""),
            "out_request_no": raw.get("out_request_no", ""), "subject": raw.get("subject", ""),
            "created_at": raw.get("created_at", ""), "finished_at": raw.get("finished_at", ""),
            "amount_fen": abs(signed_fen(raw.get("amount", ""))), "received_fen": signed_fen(raw.get("received", "")),
            "service_fee_fen": signed_fen(raw.get("service_fee", "")), "remark": raw.get("remark", ""),
        })
    return lines
