"""The seller printed on every invoice: the vendor (one row for the platform)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from guahao.plugin_api import utcnow

from .models import Seller

FIELDS = ("name", "name_en", "tax_id", "address", "bank_account", "email", "phone")
_MAX = {"name": 200, "name_en": 200, "tax_id": 40, "address": 300, "bank_account": 200, "email": 200, "phone": 40}
DEFAULT = {"name": "预约挂号平台供应商", "name_en": "Platform vendor"}


async def get_seller(s: AsyncSession) -> dict:
    """The seller's details (the defaults until they are set)."""
    row = await s.get(Seller, 1)
    if row is None:
        return dict(DEFAULT)
    return {k: getattr(row, k) for k in FIELDS if getattr(row, k)}


async def set_seller(s: AsyncSession, **changes: str) -> dict:
    """Change some of the seller's details (``guahao invoice seller``); the next invoice run
    prints them (issued invoices keep what they were issued with)."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown seller fields: {', '.join(sorted(unknown))}")
    row = await s.get(Seller, 1)
    if row is None:
        row = Seller(id=1, **DEFAULT)
        s.add(row)
    for key, value in changes.items():
        if value is not None:
            setattr(row, key, str(value).strip()[:_MAX[key]])
    row.updated_at = utcnow()
    await s.flush()
    return await get_seller(s)
