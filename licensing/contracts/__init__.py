"""Contracts (R14.1, R14.2): versioned per city, three models (revenue share, rental, profit
share), the profit operators declare, and the pricing that turns a month into invoice lines.

- :mod:`.terms` — each model's terms, validated; :mod:`.models` — the tables;
- :mod:`.service` — :func:`~.service.set_contract`, :func:`~.service.contract_in_force`,
  :func:`~.service.contract_history`, :func:`~.service.contract_summary`,
  :func:`~.service.declare_profit`, :func:`~.service.declared_profit` (in a ``city_session``);
- :mod:`.spans`, :mod:`.pricing` — the pure engine; :mod:`.money` — fen, the rounding rule.
"""

from __future__ import annotations

from .models import Contract, ProfitDeclaration

__all__ = ["Contract", "ProfitDeclaration"]
