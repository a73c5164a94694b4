"""Logging in with a one-time code sent by SMS (R1.2), and the small store behind it.

A code has six digits, lives five minutes and survives five wrong tries; one phone gets at
most one code a minute and ten a day. Only a keyed hash of the code is kept (HMAC with the
data key, ``cipher().lookup_hash``) and it is compared in constant time. The code travels to
the sender inside a ``notify`` outbox row, encrypted, and is readable only in the message
itself, with the code's expiry: a message that could not be delivered in time is dropped, never
sent late (``core.notifications.delivery``). A phone that belongs to nobody gets the very same answer, and nothing is sent.

Counters and codes live in a :class:`CodeStore`: Redis when the runtime has it (several web
processes serve one city; while it is down codes are refused with 503), else an in-process
dictionary.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy import select
from starlette.responses import Response

from guahao.core.errors import DomainError
from guahao.core.members.service import normalize_phone
from guahao.core.members.throttle import REDIS_DOWN, REDIS_TIMEOUT
from guahao.core.models import Member
from guahao.core.outbox import emit
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city
from guahao.tenants.crypto import cipher

from .site import Page, retry_after

log = logging.getLogger("guahao.web")
T = TypeVar("T")

CODE_DIGITS = 6
CODE_TTL = 300
MAX_ATTEMPTS = 5
RESEND_AFTER = 60
DAILY_MAX = 10
DAY = 24 * 3600


class CodeStore(Protocol):
    """Short-lived values and counters, each key expiring on its own."""

    async def get(self, key: str) -> str | None:
        """The value under ``key``, or ``None`` when absent or expired."""

    async def put(self, key: str, value: str, ttl: int) -> None:
        """Keep ``value`` for ``ttl`` seconds."""

    async def incr(self, key: str, ttl: int) -> int:
        """Count one more; the count starts at 1 and is forgotten ``ttl`` seconds after that."""

    async def delete(self, *keys: str) -> None:
        """Forget ``keys``."""


class MemoryCodeStore:
    """In-process :class:`CodeStore` (one web process). Time comes from ``tenants.clock``.

    Parameters:
        max_entries: bound on remembered keys; expired ones are swept when it is reached.
    """

    def __init__(self, max_entries: int = 100_000):
        self.max_entries = max_entries
        self._items: dict[str, tuple[str, datetime]] = {}

    def _live(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None or item[1] <= utcnow():
            self._items.pop(key, None)
            return None
        return item[0]

    def _room(self) -> None:
        if len(self._items) >= self.max_entries:
            now = utcnow()
            self._items = {k: v for k, v in self._items.items() if v[1] > now}
            while len(self._items) >= self.max_entries:
                self._items.pop(next(iter(self._items)))

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def put(self, key: str, value: str, ttl: int) -> None:
        self._room()
        self._items[key] = (value, utcnow() + timedelta(seconds=ttl))

    async def incr(self, key: str, ttl: int) -> int:
        current = self._live(key)
        if current is None:
            self._room()
            self._items[key] = ("1", utcnow() + timedelta(seconds=ttl))
            return 1
        count = int(current) + 1
        self._items[key] = (str(count), self._items[key][1])
        return count

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._items.pop(key, None)


class RedisCodeStore:
    """:class:`CodeStore` in Redis, shared by every web process.

    A code sent by one process must be checkable by another, so while Redis does not answer
    the store refuses with 503 ``service_unavailable`` (codes and their counters are not kept
    anywhere less safe); log-in with the password keeps working meanwhile.

    Parameters:
        redis: a ``redis.asyncio`` client (the runtime's arq pool is one).
    """

    def __init__(self, redis):
        self.redis = redis

    async def get(self, key: str) -> str | None:
        value = await _reached(self.redis.get(key))
        return value.decode() if isinstance(value, bytes) else value

    async def put(self, key: str, value: str, ttl: int) -> None:
        await _reached(self.redis.set(key, value, ex=ttl))

    async def incr(self, key: str, ttl: int) -> int:
        async def counted() -> int:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, ttl, nx=True)
                count, _ = await pipe.execute()
            return int(count)

        return await _reached(counted())

    async def delete(self, *keys: str) -> None:
        if keys:
            await _reached(self.redis.delete(*keys))


RETRY_AFTER_OUTAGE = 60


async def _reached(call: Awaitable[T]) -> T:
    """A Redis call's result; 503 ``service_unavailable`` when Redis does not answer."""
    try:
        return await asyncio.wait_for(call, REDIS_TIMEOUT)
    except REDIS_DOWN as exc:
        log.warning("Redis unreachable, login codes refused: %r", exc)
        error = DomainError("service_unavailable", "短信验证码服务暂时不可用，请使用密码登录或稍后再试 / "
                            "text-message codes are unavailable for now: log in with the password",
                            status=503, details={"retry_after_seconds": RETRY_AFTER_OUTAGE})
        error.headers = {"Retry-After": str(RETRY_AFTER_OUTAGE)}
        raise error from None


def _limited(code: str, message: str, retry_after: int) -> DomainError:
    error = DomainError(code, message, status=429, details={"retry_after_seconds": retry_after})
    error.headers = {"Retry-After": str(retry_after)}
    return error


class LoginCodes:
    """Sends and checks login codes for one app.

    Parameters:
        store: where codes and counters live when the runtime has no Redis.
    """

    def __init__(self, store: CodeStore | None = None):
        self.memory = store or MemoryCodeStore()

    def store(self, rt) -> CodeStore:
        return RedisCodeStore(rt.redis) if getattr(rt, "redis", None) is not None else self.memory

    @staticmethod
    def _key(subject: str, what: str) -> str:
        return f"guahao:otp:{require_city().slug}:{subject}:{what}"

    @staticmethod
    def _digest(subject: str, code: str) -> str:
        return cipher().lookup_hash(f"login-code\x00{require_city().id}\x00{subject}\x00{code}")

    async def send(self, rt, subject: str, member_id: int | None) -> None:
        """Send a fresh code for ``subject`` (a phone) to the member; with no member, only count.

        Raises ``code_too_soon`` within a minute of the last code, ``code_daily_limit`` after ten.
        """
        store = self.store(rt)
        if await store.incr(self._key(subject, "cooldown"), RESEND_AFTER) > 1:
            raise _limited("code_too_soon", "验证码发送过于频繁，请1分钟后再试", RESEND_AFTER)
        if await store.incr(self._key(subject, "day"), DAY) > DAILY_MAX:
            raise _limited("code_daily_limit", "今日获取验证码次数已达上限", DAY)
        if member_id is None:
            return
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        await store.put(self._key(subject, "code"), self._digest(subject, code), CODE_TTL)
        await store.delete(self._key(subject, "tries"))
        async with rt.db.transaction() as s:
            emit(s, "notify", {"kind": "login_code", "member_id": member_id,
                               "expires_at": (utcnow() + timedelta(seconds=CODE_TTL)).isoformat(),
                               "data": {"sealed_code": cipher().encrypt(code)}})

    async def verify(self, rt, subject: str, code: str) -> bool:
        """Whether ``code`` is the live code of ``subject``; a right code works once.

        Raises ``code_attempts`` from the sixth try on (the code is then gone).
        """
        store = self.store(rt)
        code_key, tries_key = self._key(subject, "code"), self._key(subject, "tries")
        if await store.incr(tries_key, CODE_TTL) > MAX_ATTEMPTS:
            await store.delete(code_key)
            raise _limited("code_attempts", "验证码错误次数过多，请重新获取", RESEND_AFTER)
        code = (code or "").strip()
        stored = await store.get(code_key)
        given = self._digest(subject, code) if code.isascii() and code.isdigit() else ""
        if stored is None or not hmac.compare_digest(stored.encode(), given.encode()):
            return False
        await store.delete(code_key, tries_key)
        return True


def invalid_code() -> DomainError:
    return DomainError("invalid_code", "验证码不正确或已过期", status=401)


async def _member_by_phone(p: Page, phone: str) -> Member | None:
    async with p.rt.db.transaction() as s:
        return await s.scalar(select(Member).where(Member.phone == phone))


def login_page(codes: LoginCodes):
    """The ``/login/code`` handler: phone → code → the normal session login."""

    async def login_code(p: Page) -> Response:
        next_url, why = p.next_url(), p.reason()
        keep = {"next": next_url, "why": why, "password_login": p.login_link("login", next_url, why)}
        if p.request.method == "GET":
            return p.render("login_code.html", step="phone", phone="", error=None, **keep)
        raw = p.form.get("phone", "").strip()[:20]
        phone = normalize_phone(raw)

        def again(step: str, status: int, exc: DomainError | None, **extra) -> Response:
            return p.render("login_code.html", status=status, step=step, phone=phone or raw,
                            error=p.refusal(exc) if exc else None, **keep, **extra)

        if phone is None:
            return again("phone", 422, DomainError("invalid_phone", "手机号码无效", status=422))
        if p.form.get("action") == "send":
            member = await _member_by_phone(p, phone)
            try:
                await p.rate_limit("sms_phone", "sms_ip", "sms_device", phone=phone)
                await codes.send(p.rt, phone, member.id if member else None)
            except DomainError as exc:
                soon = exc.code == "code_too_soon" or (exc.code == "rate_limited" and exc.details["scope"] == "phone")
                return retry_after(again("code" if soon else "phone", exc.status, exc), exc)
            return again("code", 200, None, sent=True)
        try:
            ok = await codes.verify(p.rt, phone, p.form.get("code", ""))
        except DomainError as exc:
            return again("phone", exc.status, exc)
        member = await _member_by_phone(p, phone) if ok else None
        if member is None:
            return again("code", 401, invalid_code())
        p.session.log_in(member.id, member.session_generation)
        return p.redirect(next_url)

    return login_code
