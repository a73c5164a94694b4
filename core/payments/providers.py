"""Which of the city's payment providers takes a payment (a booking's fee or a fee order)."""

from __future__ import annotations

from guahao.core.plugins.interfaces import PaymentProvider


def online_provider(plugins, name: str = "") -> PaymentProvider | None:
    """The provider a booking pays through: the named one (a payment already started there),
    else the first online provider the city enabled."""
    if name:
        return plugins.payment_provider(name)
    return next((p for p in plugins.payment_providers() if p.online), None)
