"""Member registration and login (R1.1–R1.4).

ID numbers are stored encrypted (``cipher().encrypt``), found by keyed hash
(``cipher().lookup_hash``) and shown masked; passwords are Argon2id hashes.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.errors import Conflict, DomainError
from guahao.core.models import Member
from guahao.core.outbox import emit
from guahao.tenants.context import require_city
from guahao.tenants.crypto import cipher

from .ids import mask_id_number, normalize_id_number, validate_id_number
from .origin import mask_ip, origin_hash
from .passwords import hash_password, verify_password
from .throttle import LoginAttempt, LoginThrottle

PHONE_RE = re.compile(r"1[3-9]\d{9}")
MIDDLE_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·", "．": "·"})
NAME_MIN, NAME_MAX = 2, 30
PASSWORD_MIN, PASSWORD_MAX = 8, 128


def _field_error(code: str, field: str, message: str) -> DomainError:
    return DomainError(code, message, status=422, details={"field": field})


def normalize_phone(value: str) -> str | None:
    """An 11-digit mainland mobile number (``+86``/spaces/hyphens tolerated), else ``None``."""
    digits = value.strip().replace(" ", "").replace("-", "")
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits if PHONE_RE.fullmatch(digits) and digits.isascii() else None


def _is_name_char(ch: str) -> bool:
    if ch == "·" or (ch.isascii() and ch.isalpha()):
        return True
    return unicodedata.name(ch, "").startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


def validate_name(value: str) -> str:
    """A real name: 2–30 CJK characters (or Latin letters), ``·`` between parts (阿依古丽·买买提)."""
    name = re.sub(r"\s*·\s*", "·", " ".join(value.translate(MIDDLE_DOTS).split()))
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise _field_error("invalid_name", "name", f"姓名应为{NAME_MIN}到{NAME_MAX}个字")
    parts = name.split("·")
    if any(not p for p in parts) or not all(_is_name_char(c) for c in name.replace(" ", "")):
        raise _field_error("invalid_name", "name", "姓名只能包含汉字或字母，少数民族姓名可用“·”分隔")
    return name


def validate_password(value: str) -> str:
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise _field_error("weak_password", "password", f"密码长度应为{PASSWORD_MIN}到{PASSWORD_MAX}位")
    if not any(c.isalpha() for c in value) or not any(c.isdigit() for c in value):
        raise _field_error("weak_password", "password", "密码需同时包含字母和数字")
    return value


async def register(
    s: AsyncSession,
    *,
    name: str,
    id_number: str,
    phone: str,
    password: str,
    registered_by: str = "self",
    ip: str = "",
    device: str = "",
) -> Member:
    """Register a real-name member of the current city (``registered_by`` names staff for 代办).

    ``ip`` and ``device`` (the client address and the browser's device id of a self-registration)
    are kept hashed, the address also masked (``core.members.origin``), for the scalper view.
    """
    name = validate_name(name)
    info = validate_id_number(id_number)
    mobile = normalize_phone(phone)
    if mobile is None:
        raise _field_error("invalid_phone", "phone", "手机号码应为11位中国大陆手机号")
    validate_password(password)
    # Hash before the first query: on SQLite that query takes the write lock.
    password_hash = await hash_password(password)
    id_hash, *earlier = cipher().lookup_hashes(info.number)
    taken = (
        await s.execute(
            select(Member.phone, Member.id_number_hash)
            .where(or_(Member.phone == mobile, Member.id_number_hash.in_([id_hash, *earlier])))
        )
    ).first()
    if taken is not None:
        field = "id_number" if taken.id_number_hash in (id_hash, *earlier) else "phone"
        raise _exists(field)
    member = Member(
        name=name,
        id_number_encrypted=cipher().encrypt(info.number),
        id_number_hash=id_hash,
        id_number_masked=mask_id_number(info.number),
        birth_date=info.birth_date,
        sex=info.sex,
        phone=mobile,
        password_hash=password_hash,
        registered_by=registered_by[:80],
        registration_ip_hash=origin_hash("ip", ip),
        registration_net=mask_ip(ip),
        registration_device_hash=origin_hash("device", device),
    )
    s.add(member)
    try:
        await s.flush()
    except IntegrityError:  # a concurrent registration won the race
        raise _exists(None) from None
    emit(s, "member.event", {"kind": "registered", "member_id": member.id, "at": member.created_at.isoformat(),
                             "registered_by": member.registered_by})
    return member


def _exists(field: str | None) -> Conflict:
    message = {"id_number": "该身份证号码已注册", "phone": "该手机号码已注册"}.get(field or "", "该用户已注册")
    return Conflict("member_exists", message, details={"field": field} if field else None)


def _parse_login(login: str) -> tuple[str, str] | None:
    """``("phone", 11 digits)`` or ``("id", 18 characters, X upper)``; ``None`` for anything else."""
    if not isinstance(login, str) or len(login) > 64:
        return None
    mobile = normalize_phone(login)
    if mobile is not None:
        return "phone", mobile
    number = normalize_id_number(login)
    if len(number) == 18 and number.isascii() and number[:17].isdigit() and (number[17].isdigit() or number[17] == "X"):
        return "id", number
    return None


def _login_filter(login: str):
    """Which member a login names: a mobile number, else an ID number (X in any case)."""
    parsed = _parse_login(login)
    if parsed is None:
        return None
    kind, value = parsed
    if kind == "phone":
        return Member.phone == value
    return Member.id_number_hash.in_(cipher().lookup_hashes(value))


def login_key(login: str) -> str:
    """The throttle's key of a login: every spelling of one phone or ID number gives the same
    key, and the key is a keyed hash (no phone or ID number in the clear in Redis or memory)."""
    parsed = _parse_login(login)
    normal = ":".join(parsed) if parsed else (login if isinstance(login, str) else "").strip().upper()[:64]
    return cipher().lookup_hash(f"login-throttle\x00{normal}")[:32]


def _invalid_credentials() -> DomainError:
    return DomainError("invalid_credentials", "登录名或密码不正确", status=401)


async def _before(throttle: LoginThrottle | None, login: str, ip: str) -> LoginAttempt:
    """The attempt's counters, refused with ``too_many_attempts`` while its login or address is locked."""
    attempt = LoginAttempt(require_city().id, login_key(login), ip or "")
    if throttle is not None:
        await attempt.check(throttle)
    return attempt


async def _check(member: Member | None, attempt: LoginAttempt, password: str, throttle: LoginThrottle | None) -> bool:
    """Verify the password (constant work whether or not the member exists); returns needs_rehash.

    A locked member is refused before the password is looked at, whichever login named it."""
    if member is not None:
        attempt = LoginAttempt(attempt.city_id, attempt.login, attempt.ip, member.id)
        if throttle is not None:
            await attempt.check(throttle)
    ok, rehash = await verify_password(member.password_hash if member else None, password)
    if not ok:
        if throttle is not None:
            await attempt.failed(throttle)
        raise _invalid_credentials()
    if throttle is not None:
        await attempt.succeeded(throttle)
    return rehash


async def authenticate(
    s: AsyncSession, *, login: str, password: str, throttle: LoginThrottle | None = None, ip: str = ""
) -> Member:
    """The member a login (phone or ID number) and password identify, or ``invalid_credentials``.

    With a ``throttle``, failures count per login, per member and per client address ``ip``."""
    attempt = await _before(throttle, login, ip)
    cond = _login_filter(login)
    member = await s.scalar(select(Member).where(cond)) if cond is not None else None
    if await _check(member, attempt, password, throttle):
        member.password_hash = await hash_password(password)
    return member


async def login(db, *, login: str, password: str, throttle: LoginThrottle | None = None, ip: str = "") -> Member:
    """:func:`authenticate` without holding a transaction during the slow password check."""
    attempt = await _before(throttle, login, ip)
    cond = _login_filter(login)
    member = None
    if cond is not None:
        async with db.transaction() as s:
            member = await s.scalar(select(Member).where(cond))
    if await _check(member, attempt, password, throttle):
        new_hash = await hash_password(password)
        async with db.transaction() as s:
            await s.execute(update(Member).where(Member.id == member.id).values(password_hash=new_hash))
    return member


async def get_member(s: AsyncSession, member_id: int) -> Member | None:
    return await s.scalar(select(Member).where(Member.id == member_id))


def member_view(member: Member) -> dict:
    """What a member sees of their account (the ID number only masked)."""
    return {
        "id": member.id,
        "name": member.name,
        "id_number_masked": member.id_number_masked,
        "phone": member.phone,
    }


EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
EMAIL_MAX, OPENID_MAX = 254, 64
UNCHANGED = object()


async def update_contacts(
    s: AsyncSession,
    member_id: int,
    *,
    email=UNCHANGED,
    wechat_openid=UNCHANGED,
    notifications_opt_out=UNCHANGED,
) -> Member:
    """Change a member's contact details (R1.5) and message opt-out (R9.3).

    An empty e-mail or openid clears it; arguments left out stay as they are.
    """
    member = await get_member(s, member_id)
    if member is None:
        raise DomainError("not_found", "会员不存在", status=404)
    if email is not UNCHANGED:
        value = (email or "").strip()
        if value and (len(value) > EMAIL_MAX or not EMAIL_RE.fullmatch(value)):
            raise _field_error("invalid_email", "email", "电子邮箱格式不正确")
        member.email = value or None
    if wechat_openid is not UNCHANGED:
        value = (wechat_openid or "").strip()
        if len(value) > OPENID_MAX:
            raise _field_error("invalid_openid", "wechat_openid", "微信标识不正确")
        if value and await s.scalar(select(Member.id).where(Member.wechat_openid == value, Member.id != member.id)):
            raise Conflict("openid_taken", "该微信已绑定其他账户", details={"field": "wechat_openid"})
        member.wechat_openid = value or None
    if notifications_opt_out is not UNCHANGED:
        member.notifications_opt_out = bool(notifications_opt_out)
    await s.flush()
    return member
