"""The demo city's contract: revenue share (免费共建，合作运营) from the first day of the year,
for licensing's demo seeding to call."""

from __future__ import annotations

from datetime import date

from guahao.core import audit
from guahao.plugin_api import city_session

from .models import Contract
from .service import contract_history, set_contract

DEMO_BUYER = {"name": "示例市卫生健康委员会"}
DEMO_TERMS = {
    "percent": "8",
    "tiers": [{"up_to": 20_000, "per_booking_fen": 50}, {"per_booking_fen": 30}],
    "minimum_fen": 300_000,
}


async def seed_demo_contract(rt, city, *, actor: audit.Actor, since: date) -> Contract | None:
    """Give the demo city a revenue-share contract from ``since`` unless it has one already
    (``None`` then)."""
    async with city_session(rt, city) as s:
        if await contract_history(s):
            return None
        return await set_contract(s, actor, model="revenue_share", effective_from=since, terms=DEMO_TERMS,
                                  buyer=DEMO_BUYER, note="演示：合作运营协议 / demo revenue-share agreement")
