"""The hash chain: each ledger row's hash is SHA-256 over the previous row's hash and the
row's canonical content, so changing, removing or reordering any row breaks every hash after
it. The canonical content is written down once, here, and is what ``usage verify`` recomputes.

Canonical content: the JSON array ``[city_id, seq, meter, quantity, dimensions, occurred_at,
source_id, recorded_at]`` with sorted keys, no spaces, UTF-8, times in UTC as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``; hashed as ``sha256(prev_hash + "\\n" + content)`` in hex.
The first row of a city chains to :data:`GENESIS`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

GENESIS = "0" * 64


def utc_text(value: datetime) -> str:
    """A time in the chain's one spelling (UTC, microseconds, ``Z``)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(
    *, city_id: int, seq: int, meter: str, quantity: int, dimensions: dict, occurred_at: datetime,
    source_id: str, recorded_at: datetime,
) -> bytes:
    """The row's content as the chain hashes it."""
    content = [
        city_id, seq, meter, quantity, {str(k): str(v) for k, v in dimensions.items()},
        utc_text(occurred_at), source_id, utc_text(recorded_at),
    ]
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def link(prev_hash: str, content: bytes) -> str:
    """The hash of a row whose content is ``content``, following ``prev_hash``."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(content)
    return digest.hexdigest()


def row_hash(prev_hash: str, row) -> str:
    """The hash a stored row (``UsageEvent`` or a result row with its columns) should have."""
    return link(
        prev_hash,
        canonical(
            city_id=row.city_id, seq=row.seq, meter=row.meter, quantity=row.quantity, dimensions=row.dimensions or {},
            occurred_at=row.occurred_at, source_id=row.source_id, recorded_at=row.recorded_at,
        ),
    )
