"""WeChat Pay (微信支付, API v3): registration fees paid with WeChat Pay (R6.2).

A hospital with ``payment_mode`` online holds a booking unpaid for the city's hold time; the
patient site opens a WeChat Pay order for it (:class:`WeChatPay`): a QR code (Native) on
computers and kiosks, H5 in mobile browsers, JSAPI inside WeChat. WeChat Pay's signed,
encrypted callbacks (``POST /c/{city}/plugins/wechatpay/notify``) confirm it and settle
refunds; refunds of cancelled or late-paid bookings run as outbox jobs. ``statement`` reads
the daily trade bill for reconciliation.

Settings: ``mchid``, ``appid``, ``cert_serial_no``, ``platform_public_key_id``, ``api_base``,
``notify_url``, ``timeout``. Secrets: ``private_key``, ``apiv3_key``, ``platform_public_key``.

:mod:`.practice` is a local practice gateway of the provider (API and cashier page): the tests
run against it, and ``guahao demo`` serves it for its demo city (hook ``guahao_demo_practice``).
"""

from __future__ import annotations

from guahao.plugin_api import hookimpl

from .meta import META  # noqa: F401  (the plugin's declaration)
from .models import WechatpayNotification
from .notify import notify_routes
from .provider import NAME, WeChatPay

__all__ = ["NAME", "WeChatPay", "WechatpayNotification"]


@hookimpl
def guahao_payment_providers():
    return [WeChatPay()]


@hookimpl
def guahao_routes():
    return notify_routes()


@hookimpl
def guahao_demo_practice(base_url):
    from .practice import PracticeWeChatPay

    return PracticeWeChatPay(base_url)
