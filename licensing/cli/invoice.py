"""``guahao invoice …``."""

from __future__ import annotations


def add_invoice_commands(subs) -> None:
    """Add the ``invoice`` commands."""
