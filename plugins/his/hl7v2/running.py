"""The practice HIS instances running in this process (see :mod:`.practice`), where the adapter
finds a practice hospital's address."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"


@dataclass
class Practice:
    his: Any  # practice.PracticeHis
    listener: asyncio.AbstractServer = field(repr=False)


RUNNING: dict[tuple[int, str], Practice] = {}  # (city id, hospital code) → this process's practice HIS


def address(city_id: int, hospital_code: str = "") -> tuple[str, int] | None:
    """Where the practice HIS of a hospital listens (any of the city's, without a code)."""
    if hospital_code:
        found = RUNNING.get((city_id, hospital_code))
    else:
        found = next((p for (c, _), p in RUNNING.items() if c == city_id), None)
    return (HOST, found.his.port) if found is not None else None
