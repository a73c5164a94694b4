"""支付宝 Alipay: registration fees paid through Alipay's open platform (R6.2).

A hospital with ``payment_mode`` online holds a booking unpaid for the city's hold time; the
patient site sends the member to Alipay (page pay on a computer, wap pay in a phone's browser;
a QR code from precreate at the kiosk) and Alipay's signed notify
(``POST /c/{city}/plugins/alipay/notify``) confirms it. Refunds (a paid booking cancelled, a
payment after the hold ended) run as outbox jobs through ``alipay.trade.refund``;
:meth:`AlipayProvider.statement` reads the daily trade statement for reconciliation.

Settings: ``app_id``, ``gateway``, ``sign_type`` (RSA2), ``timeout``, ``notify_base_url``.
Secrets: ``app_private_key``, ``alipay_public_key``. See ``docs/payments-alipay.md``.

:mod:`.practice` is a local practice gateway of the provider (API and cashier page): the tests
run against it, and ``guahao demo`` serves it for its demo city (hook ``guahao_demo_practice``).
"""

from __future__ import annotations

from guahao.plugin_api import hookimpl

from .meta import META  # noqa: F401  (the plugin's declaration)
from .models import AlipayNotify
from .notify import notify_routes
from .provider import NAME, AlipayProvider

__all__ = ["NAME", "AlipayNotify", "AlipayProvider"]


@hookimpl
def guahao_payment_providers():
    return [AlipayProvider()]


@hookimpl
def guahao_routes():
    return notify_routes()


@hookimpl
def guahao_demo_practice(base_url):
    from .practice import PracticeAlipay

    return PracticeAlipay(base_url)
