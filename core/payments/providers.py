"""Which of the city's payment providers takes a payment (a booking's fee or a fee order), and
asking one for a named refund."""

from __future__ import annotations

import inspect
from typing import Mapping
from urllib.parse import urlencode

from guahao.core.plugins.interfaces import PaymentProvider, RefundResult


def online_provider(plugins, name: str = "") -> PaymentProvider | None:
    """The provider a booking pays through: the named one (a payment already started there),
    else the first online provider the city enabled."""
    if name:
        return plugins.payment_provider(name)
    return next((p for p in plugins.payment_providers() if p.online), None)


async def refund_named(
    provider: PaymentProvider, payable, amount_fen: int, settings: Mapping, secrets: Mapping, key: str
) -> RefundResult:
    """``provider.refund`` of the refund named ``key`` (plugin API 1.2); a provider written for
    1.1, whose ``refund`` takes no key, is asked by amount."""
    if key and "key" in inspect.signature(provider.refund).parameters:
        return await provider.refund(payable, amount_fen, settings, secrets, key=key)
    return await provider.refund(payable, amount_fen, settings, secrets)


def return_url_for(provider: PaymentProvider, return_url: str, phone: str) -> str:
    """``return_url`` as ``provider`` gets it: with the member's mobile number (``pay_phone``)
    for a provider that charges the phone bill, unchanged for any other (a phone number is
    personal data: it goes nowhere it is not needed)."""
    if not getattr(provider, "charges_phone", False) or not phone:
        return return_url
    return return_url + ("&" if "?" in return_url else "?") + urlencode({"pay_phone": phone})
