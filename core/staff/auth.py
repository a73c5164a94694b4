"""Password log-in of staff and vendor accounts, with lock-out and the TOTP second factor.

Wrong passwords are counted per account *and client address* (``LoginFailure`` rows), so an
anonymous guesser at one address cannot lock the account out for everyone: each wrong password
from an address makes that address wait before its next try on the account — nothing after the
first two, then 2 and 4 seconds, and from the fifth a pause of fifteen minutes that doubles with
every further wrong password, up to a day. A try within the wait is refused before the password
is even checked. A right password from the address forgets its count; otherwise the pause runs
out by itself, and a city administrator (or the vendor) lifts every pause and lock of an account
at once with "unlock" in the console (audited), as does a password reset. Wrong passwords from
all addresses together still lock the account itself after ``ACCOUNT_LOCK_AFTER`` (a guesser
spread over many addresses), for fifteen minutes.
Five wrong second-factor codes in a row lock the account for fifteen minutes: codes are counted
apart from passwords, and a right password does not forgive wrong codes (else a guesser knowing
the password would get four codes per round, for ever). A TOTP code works once: the account
remembers the last time step it accepted and refuses that step and earlier ones. Counters,
pauses, locks and the step live in the database, so every web process sees them and a restart
does not reset them.
A wrong username costs the same time as a wrong password (a dummy hash is verified) and gets
the same answer, so log-in attempts cannot probe which usernames exist.

These functions open their own transactions: a failed attempt must be counted (committed)
even though the attempt itself is refused.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from datetime import timedelta

import pyotp
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from guahao.core import audit
from guahao.core.errors import DomainError, Forbidden, Unauthorized
from guahao.core.members.passwords import hash_password, verify_password
from guahao.core.models.staff import LoginFailure, StaffAccount, VendorAccount
from guahao.tenants.clock import utcnow
from guahao.tenants.crypto import cipher

LOCK_AFTER = 5  # wrong passwords from one address (or wrong codes) that start a pause (or a lock)
LOCK_FOR = timedelta(minutes=15)
ACCOUNT_LOCK_AFTER = 50  # wrong passwords from every address together that lock the account itself
MAX_PAUSE = timedelta(days=1)
FORGET_AFTER = timedelta(days=1)  # an address's count is forgotten a day after its last wrong password
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


class AddressLocked(Forbidden):
    def __init__(self, minutes: int):
        super().__init__(
            "address_locked",
            f"此地址连续输错密码次数过多，已暂停从此地址登录该账号，请 {minutes} 分钟后再试或联系管理员解锁 / "
            f"too many wrong passwords from this address: log-in to this account from here is paused for "
            f"{minutes} more minutes",
            details={"minutes": minutes},
        )


class LoginDelayed(DomainError):
    status = 429

    def __init__(self, seconds: int):
        super().__init__(
            "login_delayed",
            f"密码输错，请 {seconds} 秒后再试 / wrong password: wait {seconds} seconds before the next try",
            details={"retry_after_seconds": seconds},
        )
        self.headers = {"Retry-After": str(seconds)}


def pause_after(failures: int) -> timedelta:
    """How long an address waits after its ``failures``-th wrong password in a row."""
    if failures < 3:
        return timedelta(0)
    if failures < LOCK_AFTER:
        return timedelta(seconds=2 ** (failures - 2))
    return min(LOCK_FOR * 2 ** (failures - LOCK_AFTER), MAX_PAUSE)


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


def _kind(account: Account) -> str:
    return "staff" if isinstance(account, StaffAccount) else "vendor"


def _address(ip: str) -> str:
    """The keyed hash an address is counted under (no address is stored in the clear)."""
    return cipher().lookup_hash(f"login-address\x00{ip or '-'}")[:64]


async def _address_row(s, account: Account, ip: str) -> LoginFailure:
    """This account's row for this address, created if missing and locked for the attempt, so
    two attempts from one address on one account are checked one after the other."""
    key = (LoginFailure.account_kind == _kind(account), LoginFailure.account_id == account.id,
           LoginFailure.address == _address(ip))
    row = await s.scalar(select(LoginFailure).where(*key).with_for_update())
    if row is None:
        try:
            async with s.begin_nested():
                s.add(LoginFailure(account_kind=_kind(account), account_id=account.id, address=_address(ip)))
        except IntegrityError:  # another attempt from the address created it first
            pass
        row = await s.scalar(select(LoginFailure).where(*key).with_for_update())
    return row


def _waiting(row: LoginFailure) -> DomainError | None:
    """The refusal while the address must still wait, else ``None``."""
    if row.locked_until is None or row.locked_until <= utcnow():
        return None
    left = (row.locked_until - utcnow()).total_seconds()
    if row.failures >= LOCK_AFTER:
        return AddressLocked(max(1, int(left // 60) + 1))
    return LoginDelayed(max(1, math.ceil(left)))


async def _wrong_password(s, account: Account, row: LoginFailure, actor_for) -> DomainError:
    """Count a wrong password for the address and the account; the answer to give."""
    now = utcnow()
    if now - row.last_failed_at > FORGET_AFTER:
        row.failures = 0
    row.failures += 1
    row.last_failed_at = now
    pause = pause_after(row.failures)
    row.locked_until = now + pause if pause else None
    account.failed_logins += 1
    await s.execute(delete(LoginFailure).where(LoginFailure.last_failed_at < now - FORGET_AFTER))
    if account.failed_logins >= ACCOUNT_LOCK_AFTER:
        account.locked_until = now + LOCK_FOR
        if isinstance(account, StaffAccount):
            audit.record(s, actor_for(account), "staff.locked", target_type="staff", target_id=account.id,
                         summary=f"{account.username} locked after {account.failed_logins} failed log-ins")
        return AccountLocked(_minutes_left(account))
    if row.failures >= LOCK_AFTER:
        minutes = int(pause.total_seconds() // 60)
        if isinstance(account, StaffAccount):
            audit.record(s, actor_for(account), "staff.locked", target_type="staff", target_id=account.id,
                         summary=f"{account.username}: log-in from one address paused for {minutes} minutes "
                                 f"after {row.failures} wrong passwords")
        return AddressLocked(minutes)
    return LoginFailed()


async def _check(s, account: Account | None, password: str, actor_for, ip: str = "") -> tuple[Account | None, DomainError | None]:
    if account is None or not account.active:
        await verify_password(None, password)
        return None, LoginFailed()
    if is_locked(account):
        return None, AccountLocked(_minutes_left(account))
    row = await _address_row(s, account, ip)
    waiting = _waiting(row)
    if waiting is not None:
        return None, waiting
    ok, rehash = await verify_password(account.password_hash, password)
    if not ok:
        return None, await _wrong_password(s, account, row, actor_for)
    if rehash:
        account.password_hash = await hash_password(password)
    await s.delete(row)
    account.failed_logins = 0
    account.locked_until = None
    return account, None


async def locked_addresses(s, account: Account) -> int:
    """How many addresses are paused from logging in to ``account`` now."""
    return await s.scalar(select(func.count()).select_from(LoginFailure).where(
        LoginFailure.account_kind == _kind(account), LoginFailure.account_id == account.id,
        LoginFailure.locked_until > utcnow(), LoginFailure.failures >= LOCK_AFTER)) or 0


async def forget_failures(s, account: Account) -> None:
    """Lift every address's count and pause on ``account`` (an unlock, a new password)."""
    await s.execute(delete(LoginFailure).where(LoginFailure.account_kind == _kind(account),
                                               LoginFailure.account_id == account.id))


def staff_actor(account: StaffAccount, ip: str = "") -> audit.Actor:
    return audit.Actor("staff", account.id, account.display_name, account.role, ip)


async def authenticate_staff(db, username: str, password: str, *, ip: str = "") -> LoginOutcome:
    """Check a staff member's password in the current city (raises LoginFailed/AccountLocked)."""
    async with db.transaction() as s:
        account = await s.scalar(
            select(StaffAccount).where(func.lower(StaffAccount.username) == (username or "").strip().lower())
        )
        checked, error = await _check(s, account, password or "", lambda a: staff_actor(a, ip), ip)
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
        checked, error = await _check(s, account, password or "", None, ip)
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
