"""The hash chain: each ledger row's hash is SHA-256 over the previous row's hash and the
row's canonical content, so changing, removing or reordering any row breaks every hash after
it. The canonical content is written down once, here, and is what ``usage verify`` recomputes.

Canonical content: the JSON array ``[city_id, seq, meter, quantity, dimensions, occurred_at,
source_id, recorded_at]`` with sorted keys, no spaces, UTF-8, times in UTC as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``; hashed as ``sha256(prev_hash + "\\n" + content)`` in hex.
The first row of a city chains to :data:`GENESIS`.

:func:`content` writes that array directly (the bytes ``json.dumps(array, ensure_ascii=False,
sort_keys=True, separators=(",", ":"))`` gives, without building it): verifying a million rows
spends most of its time here.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

GENESIS = "0" * 64

_DIMENSIONS = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
_string = json.encoder.encode_basestring  # what that encoder writes for a string (C, when available)
_sha256 = hashlib.sha256


def utc_text(value: datetime) -> str:
    """A time in the chain's one spelling (UTC, microseconds, ``Z``): ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def dimensions_text(dimensions: dict) -> str:
    """The dimensions as the canonical content writes them (string values, sorted keys)."""
    return _DIMENSIONS.encode({str(k): str(v) for k, v in dimensions.items()})


def content(
    city_id: int, seq: int, meter: str, quantity: int, dimensions: dict | str, occurred: str, source_id: str,
    recorded: str,
) -> bytes:
    """The canonical content of a row whose times are already in the chain's spelling
    (``dimensions`` as a mapping, or already as :func:`dimensions_text`)."""
    dims = dimensions if isinstance(dimensions, str) else dimensions_text(dimensions)
    return (
        f"[{int(city_id)},{int(seq)},{_string(meter)},{int(quantity)},{dims},"
        f"{_string(occurred)},{_string(source_id)},{_string(recorded)}]"
    ).encode()


def canonical(
    *, city_id: int, seq: int, meter: str, quantity: int, dimensions: dict, occurred_at: datetime,
    source_id: str, recorded_at: datetime,
) -> bytes:
    """The row's content as the chain hashes it."""
    return content(city_id, seq, meter, quantity, dimensions, utc_text(occurred_at), source_id, utc_text(recorded_at))


def link(prev_hash: str, content: bytes) -> str:
    """The hash of a row whose content is ``content``, following ``prev_hash``."""
    digest = _sha256(prev_hash.encode("ascii"))
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
