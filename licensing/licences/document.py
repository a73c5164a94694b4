"""The licence document: what the vendor signs for one city (R14.5).

A licence names the city (its slug), the operator, the contract model, the limits (hospitals,
bookings per month, channels), the days it is valid (``valid_from`` to ``valid_until``, both
inclusive, in the city's local calendar), the days of grace after it ends, when it was issued
and its own id. As claims of a PASETO token (see :mod:`.signing`) it reads::

    {"typ": "guahao.licence", "ver": 1, "lid": "lic-20261101-3f9a0c2e", "city": "demo",
     "operator": "示例市卫生健康委员会", "model": "revenue_share",
     "limits": {"max_hospitals": 20, "max_bookings_per_month": 100000, "channels": ["web", "app"]},
     "valid_from": "2026-11-01", "valid_until": "2027-12-31", "grace_days": 30,
     "issued_at": "2026-11-01T08:00:00+00:00"}

A limit that is absent (``null``) does not apply; ``channels`` absent means every channel.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from guahao.core.errors import DomainError

TYPE = "guahao.licence"
VERSION = 1
MODELS = ("revenue_share", "rental", "profit_share")
MODEL_LABELS = {"revenue_share": ("合作运营（收入分成）", "revenue share"), "rental": ("平台租赁", "rental"),
                "profit_share": ("运营利润分成", "profit share")}
DEFAULT_GRACE_DAYS = 30
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_CHANNEL = re.compile(r"^[a-z0-9_]{1,20}$")
_LICENCE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class LicenceRefused(DomainError):
    """A licence that cannot be used: malformed, tampered, signed by a key the platform does
    not trust, for another city, expired or revoked. ``message`` is zh-CN; the English is in
    ``details["message_en"]`` and :attr:`line` gives both on one line (the commands print it)."""

    status = 422

    def __init__(self, code: str, zh: str, en: str, **details):
        super().__init__(code, zh, details={"message_en": en, **details})
        self.message_en = en

    @property
    def line(self) -> str:
        return f"{self.message} / {self.message_en}"


def malformed(what: str, what_en: str) -> LicenceRefused:
    return LicenceRefused("licence_malformed", f"许可证内容不完整或格式错误：{what}。", f"the licence is malformed: {what_en}")


@dataclass(frozen=True)
class Limits:
    """What the licence allows; ``None`` means no limit. Exceeding one is overage (shown to
    staff and on invoices), never a refusal to patients."""

    max_hospitals: int | None = None
    max_bookings_per_month: int | None = None
    channels: tuple[str, ...] | None = None

    def to_claims(self) -> dict:
        return {"max_hospitals": self.max_hospitals, "max_bookings_per_month": self.max_bookings_per_month,
                "channels": list(self.channels) if self.channels is not None else None}

    @classmethod
    def from_claims(cls, value) -> Limits:
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise malformed("限额", "limits")
        channels = value.get("channels")
        if channels is not None:
            if not isinstance(channels, list) or not all(isinstance(c, str) and _CHANNEL.match(c) for c in channels):
                raise malformed("渠道", "channels")
            channels = tuple(channels)
        return cls(_count(value.get("max_hospitals"), "max_hospitals"),
                   _count(value.get("max_bookings_per_month"), "max_bookings_per_month"), channels)


def _count(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise malformed(name, name)
    return value


def _date(value, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise malformed(name, name) from None


@dataclass(frozen=True)
class LicenceDocument:
    """The signed facts of one licence (see the module docstring)."""

    city: str
    valid_until: date
    valid_from: date
    operator: str = ""
    model: str = "rental"
    limits: Limits = field(default_factory=Limits)
    grace_days: int = DEFAULT_GRACE_DAYS
    issued_at: datetime | None = None
    licence_id: str = ""

    @property
    def grace_until(self) -> date:
        """The last day of grace (the day before the city becomes restricted)."""
        return self.valid_until + timedelta(days=self.grace_days)

    def check(self) -> LicenceDocument:
        """The document itself, if its facts hold together; else :class:`LicenceRefused`."""
        if not _SLUG.match(self.city or ""):
            raise malformed("城市代码", "city slug")
        if not _LICENCE_ID.match(self.licence_id or ""):
            raise malformed("许可证编号", "licence id")
        if self.model not in MODELS:
            raise malformed("合作模式", f"contract model (one of {', '.join(MODELS)})")
        if self.valid_until < self.valid_from:
            raise malformed("有效期结束早于开始", "valid_until is before valid_from")
        if isinstance(self.grace_days, bool) or not isinstance(self.grace_days, int) or not 0 <= self.grace_days <= 366:
            raise malformed("宽限天数", "grace_days (0 to 366)")
        if len(self.operator) > 200:
            raise malformed("运营方名称过长", "operator name too long")
        return self

    def to_claims(self) -> dict:
        return {
            "typ": TYPE, "ver": VERSION, "lid": self.licence_id, "city": self.city, "operator": self.operator,
            "model": self.model, "limits": self.limits.to_claims(), "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(), "grace_days": self.grace_days,
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
        }

    @classmethod
    def from_claims(cls, claims) -> LicenceDocument:
        if not isinstance(claims, dict) or claims.get("typ") != TYPE:
            raise malformed("不是挂号平台的许可证", "not a guahao licence")
        if claims.get("ver") != VERSION:
            raise malformed(f"版本 {claims.get('ver')!r} 不受支持", f"version {claims.get('ver')!r} is not supported")
        issued = claims.get("issued_at")
        try:
            issued_at = datetime.fromisoformat(issued) if issued else None
        except (TypeError, ValueError):
            raise malformed("签发时间", "issued_at") from None
        grace = claims.get("grace_days", DEFAULT_GRACE_DAYS)
        return cls(
            city=str(claims.get("city") or ""), valid_until=_date(claims.get("valid_until"), "valid_until"),
            valid_from=_date(claims.get("valid_from"), "valid_from"), operator=str(claims.get("operator") or ""),
            model=str(claims.get("model") or ""), limits=Limits.from_claims(claims.get("limits")),
            grace_days=grace, issued_at=issued_at, licence_id=str(claims.get("lid") or ""),
        ).check()


def new_licence_id(issued: datetime) -> str:
    """A fresh licence id: ``lic-YYYYMMDD-`` and eight random hex digits."""
    return f"lic-{issued:%Y%m%d}-{secrets.token_hex(4)}"
