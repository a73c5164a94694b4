"""Password hashing with Argon2id (argon2-cffi's RFC 9106 low-memory profile).

Hashing costs ~0.1 s of CPU on purpose, so it runs in a worker thread and never blocks the
event loop. Hashes made with older parameters are upgraded at the next successful login.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
_dummy: dict[str, str] = {}


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash with other parameters from now on (tests use cheap ones); returns the previous hasher.
    Existing hashes keep verifying and are upgraded at the next login."""
    global _hasher
    previous, _hasher = _hasher, hasher
    return previous


def _dummy_hash() -> str:
    # A hash of a random password with the current parameters: verified against when the login
    # matches no member, so a wrong login and a wrong password take the same time.
    key = f"{_hasher.time_cost}:{_hasher.memory_cost}:{_hasher.parallelism}"
    if key not in _dummy:
        _dummy[key] = _hasher.hash("no-such-member-0c5a9e")
    return _dummy[key]


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str, password: str) -> tuple[bool, bool]:
    try:
        _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, _hasher.check_needs_rehash(password_hash)


async def verify_password(password_hash: str | None, password: str) -> tuple[bool, bool]:
    """``(matches, needs_rehash)``; a missing hash costs the same time and never matches."""
    if password_hash is None:
        await asyncio.to_thread(_verify, _dummy_hash(), password)
        return False, False
    return await asyncio.to_thread(_verify, password_hash, password)
