"""Members (会员) with real-name identity (R1) and their credit record (R4)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class Member(TenantModel, table=True):
    """A real-name patient account. The ID number is stored encrypted and found by keyed hash."""

    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("city_id", "id_number_hash"),
        UniqueConstraint("city_id", "phone"),
        UniqueConstraint("city_id", "wechat_openid", name="uq_members_wechat_openid"),  # NULLs never collide
        Index("ix_members_registration_ip", "city_id", "registration_ip_hash"),
        Index("ix_members_registration_device", "city_id", "registration_device_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60)
    id_number_encrypted: str = Field(max_length=400)
    id_number_hash: str = Field(max_length=64)
    id_number_masked: str = Field(max_length=18)
    birth_date: date
    sex: str = Field(max_length=1)  # "M" | "F", from the ID number
    phone: str = Field(max_length=11)
    password_hash: str = Field(max_length=200)
    suspended_until: datetime | None = None
    suspension_reason: str = Field(default="", max_length=300)
    notifications_opt_out: bool = False  # non-essential messages only
    created_at: datetime = Field(default_factory=utcnow)
    registered_by: str = Field(default="self", max_length=80)  # 代办: staff who registered
    email: str | None = Field(default=None, max_length=254)  # R1.5 contact details
    wechat_openid: str | None = Field(default=None, max_length=64)
    # Carried in every site cookie and access token; raising it ends all of them at once.
    session_generation: int = 0
    # Where a self-registration came from, for the console's scalper view (core.members.origin):
    # keyed hashes of the client address and of the browser's device id, and the address masked.
    registration_ip_hash: str | None = Field(default=None, max_length=32)
    registration_net: str = Field(default="", max_length=45)
    registration_device_hash: str | None = Field(default=None, max_length=32)


class RefreshToken(TenantModel, table=True):
    """One API refresh token of a member (only its SHA-256 is kept). Each use spends it and
    issues the next of the same ``family_id``; a spent one presented again revokes the family."""

    __tablename__ = "member_refresh_tokens"
    __table_args__ = (
        UniqueConstraint("city_id", "token_hash", name="uq_member_refresh_token_hash"),
        Index("ix_member_refresh_tokens_family", "city_id", "family_id"),
        Index("ix_member_refresh_tokens_expires_at", "expires_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    family_id: str = Field(max_length=32)
    token_hash: str = Field(max_length=64)
    generation: int  # the member's session generation when the family began
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class CreditEvent(TenantModel, table=True):
    """A no-show or a suspension in a member's credit record, with its reason."""

    __tablename__ = "credit_events"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    booking_id: str | None = Field(default=None, max_length=24)
    kind: str = Field(max_length=20)  # no_show | suspended | lifted
    at: datetime = Field(default_factory=utcnow)
    suspended_until: datetime | None = None
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
