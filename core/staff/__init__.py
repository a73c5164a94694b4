"""Staff of the operator console: accounts, log-in, second factor, single sign-on, and the
city configuration they change. Every change takes an ``Actor`` and is audited."""

from .accounts import (
    create_staff,
    end_sessions,
    get_staff,
    list_staff,
    set_active,
    set_password,
    unlock,
    update_staff,
)
from .auth import AccountLocked, LoginFailed, authenticate_staff, authenticate_vendor, second_factor, usable

__all__ = [
    "AccountLocked",
    "LoginFailed",
    "authenticate_staff",
    "authenticate_vendor",
    "create_staff",
    "end_sessions",
    "get_staff",
    "list_staff",
    "second_factor",
    "set_active",
    "set_password",
    "unlock",
    "update_staff",
    "usable",
]
