"""Stripe: registration fees paid online on Stripe's hosted Checkout page (R6.2).

A hospital with ``payment_mode`` online holds a booking unpaid for the city's hold time; the
patient site opens a Checkout Session for it (:class:`StripeCheckout`) and Stripe's webhook
(``POST /c/{city}/plugins/stripe/webhook``) confirms it. Refunds (a paid booking cancelled,
a payment after the hold ended) run as outbox jobs through the Refunds API.

Settings: ``currency`` (``cny``), ``api_base`` (Stripe's by default), ``max_network_retries``.
Secrets: ``secret_key`` (``sk_…``), ``webhook_secret`` (``whsec_…`` of the endpoint).
"""

from __future__ import annotations

from guahao.core.hookspecs import hookimpl

from .meta import META  # noqa: F401  (the plugin's declaration)
from .models import StripeWebhookEvent
from .provider import NAME, StripeCheckout
from .webhook import webhook_routes

__all__ = ["NAME", "StripeCheckout", "StripeWebhookEvent"]


@hookimpl
def guahao_payment_providers():
    return [StripeCheckout()]


@hookimpl
def guahao_routes():
    return webhook_routes()
