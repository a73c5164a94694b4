"""Password log-in of staff and vendor accounts, with lock-out and the TOTP second factor.

Five wrong passwords in a row lock an account for fifteen minutes, and so do five wrong
second-factor codes in a row: the two are counted apart, and a right password does not forgive
wrong codes (else a guesser knowing the password would get four codes per round, for ever).
A TOTP code works once: the account remembers the last time step it accepted and refuses that
step and earlier ones. Counters, lock and step live in the account row, so every web process
sees them and a restart does not reset them.
A wrong username costs the same time as a wrong password (a dummy hash is verified) and gets
the same answer, so log-in attempts cannot probe which usernames exist.

These functions open their own transactions: a failed attempt must be counted (committed)
even though the attempt itself is refused.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from sqlalchemy import func, or_, select, update

from guahao.core import audit
from guahao.core.errors import DomainError, Forbidden, Unauthorized
from guahao.core.members.passwords import hash_password, verify_password
from guahao.core.models.staff import StaffAccount, VendorAccount
from guahao.tenants.clock import utcnow
from guahao.tenants.crypto import cipher

LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
TOTP_ISSUER = "guahao"
TOTP_DRIFT = 1  # time steps accepted either side of now (phones' clocks drift)

Account = StaffAccount | VendorAccount


class LoginFailed(Unauthorized):
    def __init__(self):
        super().__init__("用户名或密码不正确 / wrong username or password", code="login_failed")


class AccountLocked(Forbidden):
    def __init__(self, minutes: int):
        super().__init__(
            "account_locked",
            f"连续输错密码或验证码次数过多，账号已锁定，请 {minutes} 分钟后再试或联系管理员解锁 / "
            f"too many failed attempts: the account is locked for {minutes} more minutes",
            details={"minutes": minutes},
        )


@dataclass(frozen=True)
class LoginOutcome:
    """A checked password: the account, and whether a TOTP code must follow."""

    account: Account
    needs_totp: bool


def is_locked(account: Account) -> bool:
    return account.locked_until is not None and account.locked_until > utcnow()


def _minutes_left(account: Account) -> int:
    return max(1, int((account.locked_until - utcnow()).total_seconds() // 60) + 1)


def usable(account: Account | None) -> bool:
    """Active and not locked: may keep its session."""
    return account is not None and account.active and not is_locked(account)


async def _check(s, account: Account | None, password: str, actor_for) -> tuple[Account | None, DomainError | None]:
    if account is None or not account.active:
        await verify_password(None, password)
        return None, LoginFailed()
    if is_locked(account):
        return None, AccountLocked(_minutes_left(account))
    ok, rehash = await verify_password(account.password_hash, password)
    if not ok:
        account.failed_logins += 1
        if account.failed_logins >= LOCK_AFTER:
            account.locked_until = utcnow() + LOCK_FOR
            if isinstance(account, StaffAccount):
                audit.record(s, actor_for(account), "staff.locked", target_type="staff", target_id=account.id,
                             summary=f"{account.username} locked after {account.failed_logins} failed log-ins")
            return None, AccountLocked(_minutes_left(account))
        return None, LoginFailed()
    if rehash:
        account.password_hash = await hash_password(password)
    account.failed_logins = 0
    account.locked_until = None
    return account, None


def staff_actor(account: StaffAccount, ip: str = "") -> audit.Actor:
    return audit.Actor("staff", account.id, account.display_name, account.role, ip)


async def authenticate_staff(db, username: str, password: str, *, ip: str = "") -> LoginOutcome:
    """Check a staff member's password in the current city (raises LoginFailed/AccountLocked)."""
    async with db.transaction() as s:
        account = await s.scalar(
            select(StaffAccount).where(func.lower(StaffAccount.username) == (username or "").strip().lower())
        )
        checked, error = await _check(s, account, password or "", lambda a: staff_actor(a, ip))
        if checked is not None and not checked.totp_enabled:
            logged_in(s, checked, ip)
    if error is not None:
        raise error
    return LoginOutcome(checked, checked.totp_enabled)


async def authenticate_vendor(db, username: str, password: str, *, ip: str = "") -> LoginOutcome:
    """Check a vendor administrator's password (no city)."""
    async with db.transaction() as s:
        account = await s.scalar(
            select(VendorAccount).where(func.lower(VendorAccount.username) == (username or "").strip().lower())
        )
        checked, error = await _check(s, account, password or "", None)
        if checked is not None and not checked.totp_enabled:
            checked.last_login_at = utcnow()
    if error is not None:
        raise error
    return LoginOutcome(checked, checked.totp_enabled)


def logged_in(s, account: Account, ip: str, *, method: str = "password") -> None:
    """Note a completed log-in (``method``: password, totp or sso) on the account and in the log."""
    account.last_login_at = utcnow()
    if isinstance(account, StaffAccount):
        audit.record(s, staff_actor(account, ip), "staff.login", target_type="staff", target_id=account.id,
                     summary=f"{account.username} ({method})")


async def second_factor(db, model: type[Account], account_id: int, code: str, *, ip: str = "") -> Account:
    """Finish a log-in with a TOTP code. Wrong or reused codes count towards a lock-out of
    their own (``totp_failures``); a right one resets that count and spends its time step."""
    async with db.transaction() as s:
        account = await s.get(model, account_id)
        error = await _check_code(s, account, code, ip)
        if error is None:
            account.totp_failures = 0
            logged_in(s, account, ip, method="totp")
    if error is not None:
        raise error
    return account


async def _check_code(s, account: Account | None, code: str, ip: str) -> DomainError | None:
    if account is None or not account.active or not account.totp_enabled:
        return LoginFailed()
    if is_locked(account):
        return AccountLocked(_minutes_left(account))
    step = totp_step(account, code)
    if step is not None and await _spend_step(s, account, step):
        return None
    return _code_failed(s, account, ip, reused=step is not None)


async def _spend_step(s, account: Account, step: int) -> bool:
    """Record ``step`` as used unless it or a later step already is. One conditional update, so
    two requests racing with the same code cannot both pass."""
    model = type(account)
    result = await s.execute(
        update(model)
        .where(model.id == account.id, or_(model.totp_last_step.is_(None), model.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return result.rowcount == 1


def _code_failed(s, account: Account, ip: str, *, reused: bool) -> DomainError:
    account.totp_failures += 1
    if account.totp_failures >= LOCK_AFTER:
        account.locked_until = utcnow() + LOCK_FOR
        if isinstance(account, StaffAccount):
            audit.record(s, staff_actor(account, ip), "staff.locked", target_type="staff", target_id=account.id,
                         summary=f"{account.username} locked after {account.totp_failures} wrong verification codes")
        return AccountLocked(_minutes_left(account))
    if reused:
        return Unauthorized("验证码已使用过，请等待下一个验证码 / this code was already used: wait for the next one",
                            code="totp_failed")
    return Unauthorized("验证码不正确 / wrong verification code", code="totp_failed")


# --- TOTP ---------------------------------------------------------------------------------


def totp_secret(account: Account) -> str | None:
    return cipher().decrypt(account.totp_secret) if account.totp_secret else None


def totp_step(account: Account, code: str) -> int | None:
    """The time step (within ``TOTP_DRIFT`` of now) whose code ``code`` is, else ``None``."""
    secret = totp_secret(account)
    code = (code or "").strip().replace(" ", "")
    if not secret or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(utcnow())
    for step in range(now - TOTP_DRIFT, now + TOTP_DRIFT + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(account: Account, code: str) -> bool:
    """Whether ``code`` is a current code of the account's secret (used or not)."""
    return totp_step(account, code) is not None


def provisioning_uri(account: Account, secret: str, city_name: str = "") -> str:
    label = f"{city_name} {account.username}".strip() if city_name else account.username
    return pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=TOTP_ISSUER)


async def begin_totp(s, actor: audit.Actor, account: Account) -> str:
    """A new secret for the account (not active until confirmed with a code); returns it."""
    secret = pyotp.random_base32()
    account.totp_secret = cipher().encrypt(secret)
    account.totp_enabled = False
    account.totp_last_step = None
    if isinstance(account, StaffAccount):
        audit.record(s, actor, "staff.totp_begin", target_type="staff", target_id=account.id, summary=account.username)
    return secret


async def confirm_totp(s, actor: audit.Actor, account: Account, code: str) -> None:
    """Turn the second factor on once the person proves their app shows the right codes."""
    if not account.totp_secret or not verify_totp(account, code):
        raise DomainError("totp_failed", "验证码不正确 / wrong verification code", status=422,
                          details={"code": "totp_failed"})
    account.totp_enabled = True
    if isinstance(account, StaffAccount):
        audit.record(s, actor, "staff.totp_enable", target_type="staff", target_id=account.id,
                     summary=account.username, after={"two_factor": True})


async def reset_totp(s, actor: audit.Actor, account: Account) -> None:
    """Turn the second factor off (an administrator, when a phone is lost)."""
    was = account.totp_enabled
    account.totp_secret = None
    account.totp_enabled = False
    account.totp_failures = 0
    account.totp_last_step = None
    if isinstance(account, StaffAccount):
        audit.record(s, actor, "staff.totp_reset", target_type="staff", target_id=account.id,
                     summary=account.username, before={"two_factor": was}, after={"two_factor": False})
