"""``guahao licence …``."""

from __future__ import annotations


def add_licence_commands(subs) -> None:
    """Add the ``licence`` commands."""
