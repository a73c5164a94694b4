"""Ending a staff or vendor account's console sessions.

Each console cookie carries the account's ``session_generation`` at log-in and is honoured only
while the account still has that generation; raising it ends every session of the account at
once, on every device (log-out, a new password, an administrator's "End sessions").
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.models.staff import StaffAccount, VendorAccount

Account = StaffAccount | VendorAccount


def end_sessions(account: Account) -> int:
    """Invalidate every cookie issued so far; returns the new generation (for a cookie that
    should stay valid, e.g. the one of the person who just changed their own password)."""
    account.session_generation = (account.session_generation or 0) + 1
    return account.session_generation


async def log_out(s: AsyncSession, model: type[Account], account_id: int) -> None:
    """Log-out: end this session and the account's others (a missing account is ignored)."""
    account = await s.get(model, account_id)
    if account is not None:
        end_sessions(account)
