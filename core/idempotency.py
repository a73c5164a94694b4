"""Idempotent mutating requests (R3.7): the first response per (city, owner, key) is kept.

A request that comes again with the same ``Idempotency-Key`` and the same parameters gets the
stored response (``replayed``); the same key with other parameters is refused with
``idempotency_key_reused`` (422). Only successful responses are stored: a refused request
changed nothing, so trying it again under the same key is safe and may succeed.

Two requests with the same key at the same moment still make one change. The record is
written in the transaction that makes the change, so the unique constraint on
``(city_id, owner, key)`` lets one of them commit; the other fails (on that constraint, or on
the rule its twin's change now breaks, e.g. ``duplicate_session``), is rolled back whole, and
reads the winner's record instead. A replay arriving later takes the same path.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Awaitable, Callable

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import DomainError, ValidationFailed
from guahao.core.models import IdempotencyRecord
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

MAX_KEY_LENGTH = 255

Action = Callable[[AsyncSession], Awaitable[tuple[dict, int]]]
# An action that stores its own record (to choose the moment within its transaction) is
# handed this: ``await store(s, body, status)``.
Store = Callable[[AsyncSession, dict, int], Awaitable[None]]


def check_key(key: str) -> str:
    """A key is 1–255 visible ASCII characters (as Stripe and the IETF draft allow)."""
    if not isinstance(key, str) or not (1 <= len(key) <= MAX_KEY_LENGTH) or not all(33 <= ord(c) <= 126 for c in key):
        raise ValidationFailed(
            "invalid_idempotency_key", "Idempotency-Key 须为 1–255 个可见 ASCII 字符，请更换后重试。"
        )
    return key


def fingerprint(request: dict[str, Any]) -> str:
    """A stable hash of what was asked (operation and parameters)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def key_reused(key: str) -> ValidationFailed:
    return ValidationFailed(
        "idempotency_key_reused",
        "该 Idempotency-Key 已用于另一个不同的请求；新的请求请使用新的键。",
        details={"idempotency_key": key},
    )


_RECORDS = IdempotencyRecord.__table__
_FIND = select(_RECORDS.c.request_hash, _RECORDS.c.status_code, _RECORDS.c.response).where(
    _RECORDS.c.city_id == bindparam("city_id"), _RECORDS.c.owner == bindparam("owner"), _RECORDS.c.key == bindparam("key")
)
_INSERT = insert(_RECORDS)


async def stored_response(s: AsyncSession, *, owner: str, key: str, request_hash: str) -> tuple[dict, int] | None:
    """The response stored for this key, ``None`` if there is none; a different request under
    the same key raises ``idempotency_key_reused``."""
    conn = await s.connection()  # Core statement naming the city: cheap on the booking path
    row = (await conn.execute(_FIND, {"city_id": require_city().id, "owner": owner, "key": key})).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise key_reused(key)
    return row.response, row.status_code


_DEFERRED = "guahao.idempotency_deferred"


def defer_records(s: AsyncSession) -> None:
    """From now on :func:`remember` only collects its rows on the session; the caller writes
    them in this transaction (with its own rows, in one round trip) after :func:`take_deferred`."""
    s.info[_DEFERRED] = []


def take_deferred(s: AsyncSession) -> list[dict]:
    """The rows collected since :func:`defer_records`; :func:`remember` writes at once again."""
    return s.info.pop(_DEFERRED, [])


async def remember(
    s: AsyncSession, *, owner: str, key: str, request_hash: str, status_code: int, response: dict
) -> None:
    """Store the response in the caller's transaction (committed with the change it describes)."""
    row = {
        "city_id": require_city().id,
        "owner": owner,
        "key": key,
        "request_hash": request_hash,
        "status_code": status_code,
        "response": response,
        "created_at": utcnow(),
    }
    deferred = s.info.get(_DEFERRED)
    if deferred is not None:
        deferred.append(row)
        return
    conn = await s.connection()
    await conn.execute(_INSERT, row)


async def run_once(
    db,
    *,
    owner: str,
    key: str | None,
    request: dict[str, Any],
    action: Action | None = None,
    storing_action: Callable[[AsyncSession, Store | None], Awaitable[tuple[dict, int]]] | None = None,
) -> tuple[dict, int, bool]:
    """Run ``action`` in one transaction unless ``key`` already has a response.

    Parameters:
        db: the tenant ``Database`` (``rt.db``); the city context must be set.
        owner: who the key belongs to, e.g. ``"member:42"``.
        key: the client's ``Idempotency-Key`` or ``None`` (then simply run once).
        request: operation and parameters; their fingerprint is compared on replay.
        action: ``async (session) -> (response body, HTTP status)``, run inside the transaction;
            the record is stored after it.
        storing_action: instead of ``action``, ``async (session, store) -> (body, status)``
            that calls ``store`` itself inside the transaction (``store`` is ``None`` without
            a key).

    Returns ``(body, status, replayed)``.
    """
    if (action is None) == (storing_action is None):
        raise TypeError("give exactly one of action and storing_action")
    if key is None:
        async with db.transaction() as s:
            body, status = await (action(s) if action else storing_action(s, None))
        return body, status, False
    check_key(key)
    request_hash = fingerprint(request)

    async def store(s: AsyncSession, body: dict, status: int) -> None:
        await remember(s, owner=owner, key=key, request_hash=request_hash, status_code=status, response=body)

    try:
        # No look-up first: the record is inserted with the change, so a key seen before
        # fails this transaction (on the record's unique constraint, or on the rule the
        # first request's change now breaks) and is answered from the record below. The
        # common case, a new key, costs one insert and no extra round trip.
        async with db.transaction() as s:
            if storing_action is not None:
                body, status = await storing_action(s, store)
            else:
                body, status = await action(s)
                await store(s, body, status)
        return body, status, False
    except (DomainError, IntegrityError) as exc:
        if isinstance(exc, DomainError) and exc.code == "idempotency_key_reused":
            raise
        # A twin with the same key may have won the race; its record is now committed.
        hit = await replay(db, owner=owner, key=key, request_hash=request_hash)
        if hit is not None:
            return hit[0], hit[1], True
        raise


async def replay(db, *, owner: str, key: str, request_hash: str) -> tuple[dict, int] | None:
    """Look the key up in a transaction of its own."""
    async with db.transaction() as s:
        return await stored_response(s, owner=owner, key=key, request_hash=request_hash)
