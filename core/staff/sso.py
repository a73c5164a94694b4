"""Staff single sign-on per city (OpenID Connect): the provider's settings and who may enter.

A city names one provider (its discovery document, client id and secret; the secret is stored
encrypted and never shown again). A signed-in person is matched to an existing active staff
account of the city by the ID token's ``sub`` (``StaffAccount.sso_subject``) or, when the city
allows it, by a verified e-mail address that exactly one active account carries. Accounts are
never created from a token.
"""

from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.core.errors import ValidationFailed
from guahao.core.models.staff import SsoProvider, StaffAccount
from guahao.tenants.clock import utcnow
from guahao.tenants.crypto import cipher


def provider_view(p: SsoProvider | None) -> dict[str, Any]:
    """The provider's settings without its secret (``credential_stored`` says whether one is stored)."""
    if p is None:
        return {"enabled": False, "label": "", "discovery_url": "", "client_id": "", "match_email": False,
                "credential_stored": False}
    return {"enabled": p.enabled, "label": p.label, "discovery_url": p.discovery_url, "client_id": p.client_id,
            "match_email": p.match_email, "credential_stored": bool(p.client_secret_encrypted)}


async def get_provider(s: AsyncSession) -> SsoProvider | None:
    return await s.scalar(select(SsoProvider))


def client_secret(p: SsoProvider) -> str:
    return cipher().decrypt(p.client_secret_encrypted) if p.client_secret_encrypted else ""


def _valid_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and bool(parts.netloc)


async def configure_provider(
    s: AsyncSession,
    actor: audit.Actor,
    *,
    discovery_url: str,
    client_id: str,
    client_secret: str | None = None,
    label: str = "",
    enabled: bool = True,
    match_email: bool = False,
) -> SsoProvider:
    """Set the city's provider; ``client_secret`` ``None`` or empty keeps the stored one."""
    discovery_url = (discovery_url or "").strip()
    if discovery_url and not discovery_url.rstrip("/").endswith("/.well-known/openid-configuration"):
        discovery_url = discovery_url.rstrip("/") + "/.well-known/openid-configuration"
    errors = {}
    if not _valid_url(discovery_url):
        errors["discovery_url"] = "invalid_url"
    if not (client_id or "").strip():
        errors["client_id"] = "required"
    if errors:
        raise ValidationFailed("invalid_sso", "the single sign-on settings are incomplete", details=errors)
    p = await get_provider(s)
    before = provider_view(p) if p else None
    if p is None:
        p = SsoProvider(discovery_url=discovery_url, client_id=client_id.strip())
        s.add(p)
    p.discovery_url = discovery_url
    p.client_id = client_id.strip()
    p.label = (label or "").strip()[:100]
    p.enabled = enabled
    p.match_email = match_email
    if client_secret:
        p.client_secret_encrypted = cipher().encrypt(client_secret)
    p.updated_at = utcnow()
    await s.flush()
    after = provider_view(p)
    if client_secret:
        after["credential_changed"] = True
    audit.record(s, actor, "city.sso", target_type="sso", target_id=p.id, summary=p.discovery_url,
                 before=before, after=after)
    return p


async def find_account(s: AsyncSession, provider: SsoProvider, claims: Mapping[str, Any]) -> StaffAccount | None:
    """The active account an ID token's claims name, or ``None``."""
    subject = str(claims.get("sub") or "")
    if subject:
        account = await s.scalar(select(StaffAccount).where(StaffAccount.sso_subject == subject))
        if account is not None:
            return account if account.active else None
    email = str(claims.get("email") or "").strip().lower()
    if provider.match_email and email and claims.get("email_verified") is True:
        found = (await s.scalars(
            select(StaffAccount).where(func.lower(StaffAccount.email) == email, StaffAccount.active.is_(True))
        )).all()
        if len(found) == 1:
            return found[0]
    return None
