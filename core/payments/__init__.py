"""Payments of bookings (R3.5, R6): paying a held booking online and giving money back.

- ``checkout``: the member's side — start the payment with the city's online provider
  (``start_payment``), take the provider's word that it was paid (``payment_received``, also
  from webhooks), ask the provider on the member's return (``check_payment``).
- ``refunds``: the ``payment.refund`` and ``payment.void`` outbox work — refund a payment and
  record it on the booking (``refund``, event ``REFUNDED``), close a payment left open by a
  booking that ended unpaid (``void``).

A booking's status changes here only through the booking engine (confirming or expiring a
hold); this package records the payment on the booking and its events.
"""

from .checkout import CONFIRMED, DUPLICATE, REFUNDING, check_payment, payment_received, start_payment
from .providers import online_provider
from .refunds import REFUNDED, ProviderMissing, refund, void

__all__ = [
    "CONFIRMED",
    "DUPLICATE",
    "REFUNDED",
    "REFUNDING",
    "ProviderMissing",
    "check_payment",
    "online_provider",
    "payment_received",
    "refund",
    "start_payment",
    "void",
]
