"""The carrier's monthly statement (``docs/carrier-gateway.md`` §6): UTF-8 CSV, ``#`` comment
lines, one header row, one row per charge or refund, and a closing ``# totals`` line whose
counts and sums must match the rows (a truncated file is refused, never half-read)."""

from __future__ import annotations

import csv
import re
from datetime import date, datetime

from guahao.plugin_api import StatementLine

HEADER = ["type", "order_no", "transaction_id", "refund_no", "phone", "amount_fen", "status", "time"]
KINDS = {"charge": "payment", "refund": "refund"}
STATES = {("payment", "succeeded"): "paid", ("refund", "succeeded"): "refunded"}
_TOTALS = re.compile(r"^#\s*totals\s+charges=(\d+)\s+charge_fen=(\d+)\s+refunds=(\d+)\s+refund_fen=(\d+)\s*$")
MAX_BYTES = 32 * 1024 * 1024


class StatementUnreadable(ValueError):
    """The file is not a carrier statement (or not a whole one)."""


def parse(data: bytes) -> list[dict]:
    """The rows of a statement: ``kind`` (``payment``/``refund``), ``order_no``,
    ``transaction_id``, ``refund_no``, ``phone`` (masked), ``amount_fen``, ``status``, ``time``
    (aware ``datetime``)."""
    if len(data) > MAX_BYTES:
        raise StatementUnreadable("the statement is too large")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StatementUnreadable("not UTF-8") from exc
    lines = [line for line in text.splitlines() if line.strip()]
    totals = next((_TOTALS.match(line.strip()) for line in lines if _TOTALS.match(line.strip())), None)
    if totals is None:
        raise StatementUnreadable("no totals line: the file is not whole")
    rows = [line for line in lines if not line.lstrip().startswith("#")]
    if not rows:
        raise StatementUnreadable("no header row")
    reader = csv.reader(rows)
    if [c.strip() for c in next(reader)] != HEADER:
        raise StatementUnreadable("the header row is not a carrier statement's")
    out = []
    for cells in reader:
        if len(cells) != len(HEADER):
            raise StatementUnreadable(f"a row has {len(cells)} cells")
        raw = dict(zip(HEADER, (c.strip() for c in cells), strict=True))
        if raw["type"] not in KINDS or not raw["amount_fen"].isdigit():
            raise StatementUnreadable(f"unreadable row for order {raw['order_no'][:64]!r}")
        try:
            when = datetime.fromisoformat(raw["time"])
        except ValueError as exc:
            raise StatementUnreadable(f"unreadable time {raw['time'][:40]!r}") from exc
        if when.tzinfo is None:
            raise StatementUnreadable("a time without its offset")
        out.append({"kind": KINDS[raw["type"]], "order_no": raw["order_no"], "transaction_id": raw["transaction_id"],
                    "refund_no": raw["refund_no"], "phone": raw["phone"], "amount_fen": int(raw["amount_fen"]),
                    "status": raw["status"], "time": when})
    charges = [r for r in out if r["kind"] == "payment"]
    refunds = [r for r in out if r["kind"] == "refund"]
    found = (len(charges), sum(r["amount_fen"] for r in charges), len(refunds), sum(r["amount_fen"] for r in refunds))
    if found != tuple(int(g) for g in totals.groups()):
        raise StatementUnreadable("the rows do not add up to the totals line")
    return out


def of_day(rows: list[dict], day: date, tz) -> list[dict]:
    """The rows whose time falls on ``day`` in the city's time zone."""
    return [r for r in rows if r["time"].astimezone(tz).date() == day]


def to_line(row: dict, booking_id: str = "") -> StatementLine:
    """A row as reconciliation reads it: a charge is ``paid``, a refund ``refunded`` (a row of
    another status keeps it: ``pending``, ``failed``)."""
    refund = row["kind"] == "refund"
    return StatementLine(
        kind=row["kind"], provider_ref=row["refund_no"] if refund else row["transaction_id"], our_ref=row["order_no"],
        amount_fen=row["amount_fen"], status=STATES.get((row["kind"], row["status"]), row["status"]), at=row["time"],
        booking_id=booking_id, refund_ref=row["refund_no"] if refund else "",
    )
