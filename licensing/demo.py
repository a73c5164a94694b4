"""Licensing's part of the demo city: a demo licence, a contract and some usage history."""

from __future__ import annotations


async def seed_demo(rt, city) -> None:
    """Fill the demo city's licensing data (``guahao_demo_seed``)."""
    return None
