"""Failed-login throttling: after too many failures for one login, refuse it for a while.

The interface is three calls (``check``, ``failed``, ``succeeded``) so a shared store (Redis)
can replace the in-process counter when several web processes serve one city.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from core.errors import DomainError
from tenants.clock import utcnow

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)


class TooManyAttempts(DomainError):
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(
            "too_many_attempts",
            "登录失败次数过多，请稍后再试",
            details={"retry_after_seconds": retry_after},
        )
        self.headers = {"Retry-After": str(retry_after)}


class LoginThrottle(Protocol):
    """Counts failed logins per (city, login)."""

    async def check(self, city_id: int, login: str) -> None:
        """Raise :class:`TooManyAttempts` while the login is locked."""

    async def failed(self, city_id: int, login: str) -> None:
        """Record a failure; the ``MAX_FAILURES``-th within ``LOCKOUT`` locks the login."""

    async def succeeded(self, city_id: int, login: str) -> None:
        """Forget the failures of a login that just succeeded."""


class MemoryLoginThrottle:
    """In-process :class:`LoginThrottle` (one web process, or a first line of defence).

    Parameters:
        max_failures: failures within ``lockout`` that lock the login.
        lockout: how long failures are counted and how long a lock lasts.
        max_entries: bound on remembered logins, so junk logins cannot exhaust memory.
    """

    def __init__(self, max_failures: int = MAX_FAILURES, lockout: timedelta = LOCKOUT, max_entries: int = 100_000):
        self.max_failures = max_failures
        self.lockout = lockout
        self.max_entries = max_entries
        # (city, login) → (failures, first failure at, locked until)
        self._entries: dict[tuple[int, str], tuple[int, datetime, datetime | None]] = {}

    @staticmethod
    def _key(city_id: int, login: str) -> tuple[int, str]:
        return city_id, login.strip().upper()[:64]

    async def check(self, city_id: int, login: str) -> None:
        entry = self._entries.get(self._key(city_id, login))
        if entry is None or entry[2] is None:
            return
        left = (entry[2] - utcnow()).total_seconds()
        if left > 0:
            raise TooManyAttempts(int(left) + 1)

    async def failed(self, city_id: int, login: str) -> None:
        now = utcnow()
        key = self._key(city_id, login)
        count, first, _ = self._entries.get(key, (0, now, None))
        if now - first > self.lockout:
            count, first = 0, now
        count += 1
        locked = now + self.lockout if count >= self.max_failures else None
        if key not in self._entries and len(self._entries) >= self.max_entries:
            self._prune(now)
        self._entries[key] = (count, first, locked)

    async def succeeded(self, city_id: int, login: str) -> None:
        self._entries.pop(self._key(city_id, login), None)

    def _prune(self, now: datetime) -> None:
        stale = [k for k, (_, first, locked) in self._entries.items() if (locked or first + self.lockout) <= now]
        for k in stale:
            del self._entries[k]
        if len(self._entries) >= self.max_entries:  # all fresh: drop the oldest half
            for k in sorted(self._entries, key=lambda k: self._entries[k][1])[: self.max_entries // 2]:
                del self._entries[k]
