"""Time: timezone-aware UTC everywhere; one override point for tests and demos."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Iterator

_frozen: datetime | None = None


def utcnow() -> datetime:
    """Current time, aware, in UTC (how every timestamp is stored)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@contextlib.contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Freeze the clock for a block (a naive value is taken as UTC)."""
    global _frozen
    before = _frozen
    _frozen = _aware(at)
    try:
        yield
    finally:
        _frozen = before

