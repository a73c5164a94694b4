"""The vendor's administrator accounts (platform level, no city) and the cities they run."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from guahao.core import audit
from guahao.core.errors import Conflict, ValidationFailed
from guahao.core.members.passwords import hash_password
from guahao.core.models.staff import VendorAccount
from guahao.tenants.context import use_city
from guahao.tenants.service import CityExists, create_city

from .accounts import USERNAME_RE, check_password_strength

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
RESERVED_SLUGS = {"docs", "openapi.json", "static", "healthz", "login", "logout", "vendor"}


async def create_vendor(db, *, username: str, password: str, display_name: str = "", email: str = "") -> VendorAccount:
    """A new vendor administrator (bootstrap from the command line)."""
    username = (username or "").strip().lower()
    if not USERNAME_RE.fullmatch(username):
        raise ValidationFailed("invalid_username", "use 3–64 lower-case letters, digits, '.', '_' or '-'",
                               details={"username": "invalid_username"})
    check_password_strength(password)
    async with db.transaction() as s:
        if await s.scalar(select(VendorAccount.id).where(func.lower(VendorAccount.username) == username)):
            raise Conflict("username_taken", f"username {username} is taken", details={"username": "taken"})
        account = VendorAccount(username=username, display_name=(display_name or username).strip(), email=email,
                                password_hash=await hash_password(password))
        s.add(account)
    return account


async def open_city(db, actor: audit.Actor, *, slug: str, name: str, timezone: str = "Asia/Shanghai",
                    districts: list[tuple[str, str]] = ()):
    """Create a city (``tenants.service.create_city``) and log who did it in the new city's log."""
    errors = {}
    if not SLUG_RE.fullmatch(slug or "") or slug in RESERVED_SLUGS:
        errors["slug"] = "invalid_slug"
    if not (name or "").strip():
        errors["name"] = "required"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = "unknown_timezone"
    if errors:
        raise ValidationFailed("invalid_city", "some fields are missing or invalid", details=errors)
    try:
        city = await create_city(db, slug=slug, name=name.strip(), timezone=timezone, districts=list(districts))
    except CityExists:
        raise Conflict("city_exists", f"城市 {slug} 已存在 / city {slug} exists", details={"slug": "taken"}) from None
    with use_city(city):
        async with db.transaction() as s:
            audit.record(s, actor, "city.create", target_type="city", target_id=city.id,
                         summary=f"{slug} {name}", after={"slug": slug, "name": name, "timezone": timezone,
                                                        "districts": [list(d) for d in districts]})
    return city
