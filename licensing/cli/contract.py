"""``guahao contract …``."""

from __future__ import annotations


def add_contract_commands(subs) -> None:
    """Add the ``contract`` commands."""
