"""Staff accounts of the operator console (R12): who may log in, in which role and scope.

A city's staff (operators, hospital back office, agents, referral clerks, bureau viewers) are
tenant rows; the vendor's own administrators are platform rows with no city. Passwords are
Argon2id hashes, TOTP secrets are encrypted with the data key, and a lock-out after repeated
failures (passwords and second-factor codes counted apart) and the last TOTP step accepted live
in the row itself, so every web process sees them. Wrong passwords are also counted per client
address (:class:`LoginFailure`), so one address guessing cannot lock the account for everyone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class StaffRole(StrEnum):
    vendor_admin = "vendor_admin"  # 平台厂商管理员: every city
    city_admin = "city_admin"  # 城市运营管理员: one city
    hospital_admin = "hospital_admin"  # 医院管理员: one hospital
    scheduler = "scheduler"  # 排班员: one hospital
    doctor = "doctor"  # 医生: one hospital, own patients (诊间预约)
    agent = "agent"  # 呼叫中心坐席: one city
    referral_clerk = "referral_clerk"  # 社区转诊员: one community centre
    bureau_viewer = "bureau_viewer"  # 卫生局: a city or some of its districts

# English names of the roles (user interfaces translate them).
ROLE_LABELS = {
    "vendor_admin": "Vendor administrator",
    "city_admin": "City administrator",
    "hospital_admin": "Hospital administrator",
    "scheduler": "Scheduler",
    "doctor": "Doctor",
    "agent": "Call-centre agent",
    "referral_clerk": "Referral clerk",
    "bureau_viewer": "Health-bureau viewer",
}

# Roles tied to one hospital (the referral clerk's hospital is its community centre).
HOSPITAL_ROLES = frozenset({StaffRole.hospital_admin, StaffRole.scheduler, StaffRole.doctor, StaffRole.referral_clerk})


class StaffAccount(TenantModel, table=True):
    """A person who works in one city's console, in one role and scope."""

    __tablename__ = "staff_accounts"
    __table_args__ = (
        UniqueConstraint("city_id", "username"),
        UniqueConstraint("city_id", "sso_subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    display_name: str = Field(max_length=100)
    phone: str = Field(default="", max_length=20)
    email: str = Field(default="", max_length=254)
    password_hash: str | None = Field(default=None, max_length=255)
    role: str = Field(max_length=20)
    hospital_id: int | None = Field(default=None, foreign_key="hospitals.id")
    doctor_id: int | None = Field(default=None, foreign_key="doctors.id")
    district_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    totp_secret: str | None = Field(default=None, max_length=500)  # encrypted (tenants.crypto)
    totp_enabled: bool = False
    totp_failures: int = 0  # wrong second-factor codes in a row (a right password does not reset it)
    totp_last_step: int | None = None  # the last accepted TOTP time step: it and earlier ones are spent
    sso_subject: str | None = Field(default=None, max_length=255)
    session_generation: int = 0  # carried in each console cookie; raising it ends every session
    last_login_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class VendorAccount(SQLModel, table=True):
    """An administrator of the platform vendor: may enter every city's console."""

    __tablename__ = "vendor_accounts"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=100)
    email: str = Field(default="", max_length=254)
    password_hash: str | None = Field(default=None, max_length=255)
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    totp_secret: str | None = Field(default=None, max_length=500)
    totp_enabled: bool = False
    totp_failures: int = 0
    totp_last_step: int | None = None
    session_generation: int = 0  # carried in each console cookie; raising it ends every session
    last_login_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class SsoProvider(TenantModel, table=True):
    """A city's OpenID Connect provider for staff single sign-on (one per city)."""

    __tablename__ = "staff_sso_providers"
    __table_args__ = (UniqueConstraint("city_id"),)

    id: int | None = Field(default=None, primary_key=True)
    enabled: bool = True
    label: str = Field(default="", max_length=100)  # the button text, e.g. 政务统一身份认证
    discovery_url: str = Field(max_length=500)  # issuer's /.well-known/openid-configuration
    client_id: str = Field(max_length=255)
    client_secret_encrypted: str = Field(default="", max_length=2000)
    match_email: bool = False  # also accept a verified e-mail equal to an account's
    updated_at: datetime = Field(default_factory=utcnow)


class LoginFailure(SQLModel, table=True):
    """Wrong passwords for one account from one client address, in a row, and until when that
    address must wait before its next try (``core.staff.auth``). A platform row (the vendor's
    accounts have no city); the address is kept only as a keyed hash.
    """

    __tablename__ = "staff_login_failures"
    __table_args__ = (
        UniqueConstraint("account_kind", "account_id", "address"),
        Index("ix_staff_login_failures_last_failed_at", "last_failed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_kind: str = Field(max_length=10)  # "staff" or "vendor"
    account_id: int
    address: str = Field(max_length=64)  # keyed hash of the client address (tenants.crypto)
    failures: int = 0
    last_failed_at: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None
