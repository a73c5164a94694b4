"""Amounts at Alipay's boundary: integer fen inside the platform, yuan strings with two
decimals ("12.50") in Alipay's parameters, converted exactly (never through float)."""

from __future__ import annotations

import re

_YUAN = re.compile(r"^(\d{1,11})(?:\.(\d{1,2}))?$")


def yuan(fen: int) -> str:
    """``1250`` → ``"12.50"``."""
    if isinstance(fen, bool) or not isinstance(fen, int) or fen < 0:
        raise ValueError(f"not an amount in fen: {fen!r}")
    return f"{fen // 100}.{fen % 100:02d}"


def fen(text: object) -> int:
    """``"12.50"`` (or ``"12.5"``, ``"12"``) → ``1250``; raises ``ValueError`` on anything else."""
    m = _YUAN.match(str(text).strip())
    if not m:
        raise ValueError(f"not an amount in yuan: {text!r}")
    return int(m.group(1)) * 100 + int((m.group(2) or "0").ljust(2, "0"))
