"""话费支付 Carrier billing (运营商代扣, the 12580 model): the registration fee on the member's
phone bill, confirmed by the member's answer to the carrier's SMS (R6.2).

The platform publishes the gateway protocol a carrier integration implements
(``docs/carrier-gateway.md``): HMAC-SHA256 signed JSON both ways. ``prepare`` sends the charge
request; the carrier's signed result callback (``POST /c/{city}/plugins/carrier/notify``)
confirms the booking or records why it was not paid; refunds run as outbox jobs;
:meth:`CarrierProvider.statement` reads the monthly statement for reconciliation.

Settings: ``gateway_url``, ``key_id``, ``carrier`` (``cmcc``/``unicom``/``telecom``),
``notify_base_url``, ``timeout``. Secret: ``shared_secret``. See ``docs/payments-carrier.md``.
"""

from __future__ import annotations

from guahao.plugin_api import hookimpl

from .meta import META  # noqa: F401  (the plugin's declaration)
from .models import CarrierCallback, CarrierNonce
from .notify import notify_routes
from .provider import NAME, CarrierProvider

__all__ = ["NAME", "CarrierCallback", "CarrierNonce", "CarrierProvider"]


@hookimpl
def guahao_payment_providers():
    return [CarrierProvider()]


@hookimpl
def guahao_routes():
    return notify_routes()
