"""The canonical text of a row: what a backup file stores and what its checksums cover.

A column's *kind* (``int``, ``str``, ``datetime`` …) is decided once from its database type and
kept in the backup's manifest, so a value is written and read back the same way on SQLite and
PostgreSQL. Times are written in UTC without an offset (the platform stores UTC). A row is one
JSON array of its values in the order of the column names (sorted, so the physical column
order of a database does not matter); a table's checksum is the SHA-256 of its rows' lines,
each followed by a newline, in primary-key order.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import types as sqltypes

KINDS = ("bool", "int", "float", "decimal", "datetime", "date", "time", "interval", "json", "bytes", "uuid", "str")


def kind_of(sql_type: sqltypes.TypeEngine) -> str:
    """The kind of a (reflected) column type; anything unknown is kept as text."""
    checks: tuple[tuple[type, str], ...] = (
        (sqltypes.Boolean, "bool"),
        (sqltypes.Integer, "int"),
        (sqltypes.Float, "float"),  # before Numeric: Float is a Numeric
        (sqltypes.Numeric, "decimal"),
        (sqltypes.DateTime, "datetime"),
        (sqltypes.Date, "date"),
        (sqltypes.Time, "time"),
        (sqltypes.Interval, "interval"),
        (sqltypes.JSON, "json"),
        (sqltypes.LargeBinary, "bytes"),
        (sqltypes.Uuid, "uuid"),
    )
    for cls, kind in checks:
        if isinstance(sql_type, cls):
            return kind
    return "str"


def encode(kind: str, value: Any) -> Any:
    """A JSON-ready value of ``kind``; ``None`` stays ``None``."""
    if value is None:
        return None
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "decimal":
        return str(Decimal(value))
    if kind == "datetime" and isinstance(value, datetime):
        if value.tzinfo is not None:  # times are UTC: the same text with or without a time zone column
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if kind in ("datetime", "date", "time"):
        return value.isoformat() if not isinstance(value, str) else value
    if kind == "interval":
        return value.total_seconds()
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode("ascii")
    if kind == "uuid":
        return str(value)
    if kind == "json":
        return value
    return str(value)


def decode(kind: str, value: Any) -> Any:
    """The Python value to insert for an encoded ``value`` of ``kind``."""
    if value is None:
        return None
    if kind == "decimal":
        return Decimal(value)
    if kind == "datetime":
        return datetime.fromisoformat(value)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "time":
        return time.fromisoformat(value)
    if kind == "interval":
        return timedelta(seconds=value)
    if kind == "bytes":
        return base64.b64decode(value)
    if kind == "uuid":
        return uuid.UUID(value)
    return value


def row_line(kinds: list[str], row: Iterable[Any]) -> str:
    """One row's canonical line (without the newline)."""
    values = [encode(k, v) for k, v in zip(kinds, row, strict=True)]
    return json.dumps(values, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def parse_line(kinds: list[str], line: str) -> list[Any]:
    """The values to insert for a canonical line."""
    values = json.loads(line)
    if len(values) != len(kinds):
        raise ValueError(f"a row has {len(values)} values for {len(kinds)} columns")
    return [decode(k, v) for k, v in zip(kinds, values, strict=True)]


class Digest:
    """Row count and SHA-256 of a table's lines, fed one line at a time."""

    def __init__(self) -> None:
        self.rows = 0
        self._sha = hashlib.sha256()

    def add(self, line: str) -> None:
        self.rows += 1
        self._sha.update(line.encode("utf-8"))
        self._sha.update(b"\n")

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()
