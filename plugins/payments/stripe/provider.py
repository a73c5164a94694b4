"""The Stripe payment provider: a hosted Checkout Session per held booking, refunds by the
Refunds API, through the official ``stripe`` library with the city's own keys.

City settings (``stripe`` plugin): ``currency`` (default ``cny``), ``api_base`` (default
Stripe's; tests point it at a local fake), ``max_network_retries`` (default 2). Secrets:
``secret_key`` (``sk_…``) and ``webhook_secret`` (``whsec_…``, see :mod:`.webhook`).

A Checkout Session is created under an ``Idempotency-Key`` derived from the booking, so a
double click never makes a second session; a refund first looks at the refunds the payment
already has, so a retried job never refunds twice. A refund Stripe answers ``pending`` is
settled later by its webhook events (see :mod:`.refunds`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import lru_cache
from typing import Mapping

import stripe

from guahao.core.plugins.interfaces import PaymentError, PaymentIntent, PaymentProvider, PaymentResult, RefundResult
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

log = logging.getLogger("guahao.stripe")

NAME = "stripe"
DEFAULT_CURRENCY = "cny"
# Stripe keeps a Checkout Session open 30 min to 24 h. The booking's hold (often 15 min) is
# what counts; the session outlives it by this much so it is valid whenever the member starts
# paying within the hold, and is derived from the booking alone so a retried creation sends
# the same parameters under the same idempotency key.
SESSION_AFTER_HOLD = timedelta(minutes=31)
CHECKOUT_SESSION_ID = "{CHECKOUT_SESSION_ID}"


class StripeNotConfigured(PaymentError):
    """The city enabled Stripe without its secret key."""

    def __init__(self) -> None:
        super().__init__("payment_unavailable", "在线支付暂不可用，请稍后再试或联系医院。")


@lru_cache(maxsize=64)
def _client(api_key: str, api_base: str, retries: int) -> stripe.StripeClient:
    # One client per key and address: its HTTP connection pool is reused between calls.
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=retries,
        http_client=stripe.HTTPXClient(timeout=20),
    )


def client_for(settings: Mapping, secrets: Mapping) -> stripe.StripeClient:
    """The city's Stripe client (its secret key, its ``api_base``)."""
    key = str(secrets.get("secret_key") or "")
    if not key:
        raise StripeNotConfigured()
    base = str(settings.get("api_base") or stripe.DEFAULT_API_BASE).rstrip("/")
    return _client(key, base, int(settings.get("max_network_retries", 2)))


def currency_of(settings: Mapping) -> str:
    return str(settings.get("currency") or DEFAULT_CURRENCY).lower()


def _key(*parts: str) -> str:
    return "guahao-" + "-".join(parts)


def _with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


class StripeCheckout(PaymentProvider):
    """Card and wallet payments on Stripe's hosted Checkout page (R6.2)."""

    name = NAME
    verbose_name = "Stripe 在线支付"
    refund_supported = True
    partial_refund_supported = True
    online = True

    async def prepare(
        self, booking, settings: Mapping, secrets: Mapping, *, return_url: str | None = None, description: str = ""
    ) -> PaymentIntent:
        if not return_url:
            raise ValueError("Stripe Checkout needs the address to send the member back to")
        city = require_city()
        hold_end = booking.hold_expires_at or (utcnow() + timedelta(minutes=city.rules.hold_minutes))
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency_of(settings),
                        "unit_amount": booking.fee_fen,
                        "product_data": {"name": (description or f"挂号费 {booking.id}")[:250]},
                    },
                }
            ],
            "client_reference_id": booking.id,
            "metadata": {"booking_ref": booking.id, "city": city.slug},
            "payment_intent_data": {"metadata": {"booking_ref": booking.id, "city": city.slug}},
            "success_url": _with_query(return_url, f"session_id={CHECKOUT_SESSION_ID}"),
            "cancel_url": _with_query(return_url, "cancelled=1"),
            "expires_at": int((hold_end + SESSION_AFTER_HOLD).timestamp()),
        }
        try:
            session = await client_for(settings, secrets).v1.checkout.sessions.create_async(
                params, {"idempotency_key": _key(str(city.id), booking.id, "checkout")}
            )
        except stripe.StripeError as exc:
            log.warning("Stripe refused a Checkout Session for %s: %s", booking.id, exc)
            raise PaymentError("payment_unavailable", "在线支付暂不可用，请稍后再试或联系医院。") from exc
        return PaymentIntent(
            provider=self.name,
            booking_id=booking.id,
            amount_fen=booking.fee_fen,
            online=True,
            instructions="请在 Stripe 支付页面完成付款。",
            redirect_url=session.url,
            reference=session.id,
            data={"expires_at": session.expires_at},
        )

    async def execute(self, booking, settings: Mapping, secrets: Mapping, *, data: Mapping | None = None) -> PaymentResult:
        """Ask Stripe whether the booking's Checkout Session has been paid."""
        session = await client_for(settings, secrets).v1.checkout.sessions.retrieve_async(booking.payment_ref)
        paid = session.payment_status == "paid" and session.status == "complete"
        return PaymentResult(
            provider=self.name,
            booking_id=booking.id,
            status="paid" if paid else "pending",
            payment_ref=session.id,
            amount_fen=session.amount_total or 0,
        )

    async def refund(self, booking, amount_fen: int, settings: Mapping, secrets: Mapping, *, key: str = "") -> RefundResult:
        """Refund ``amount_fen`` of the booking's payment. Without ``key``: until that much has
        been refunded in all (refunds already made count first). With ``key``: the refund of that
        name (kept in the refund's metadata), made once."""
        if amount_fen <= 0:
            return RefundResult(status="nothing_to_refund")
        client = client_for(settings, secrets)
        session = await client.v1.checkout.sessions.retrieve_async(booking.payment_ref)
        intent = (
            session.payment_intent
            if isinstance(session.payment_intent, str)
            else getattr(session.payment_intent, "id", None)
        )
        if not intent:
            return RefundResult(status="nothing_to_refund")
        # Refunds already made for this payment count first: a try whose answer was lost must
        # not be repeated. Each new try gets a fresh idempotency key, because Stripe replays a
        # stored 500 for a reused key (the library still retries one try under one key).
        made = (await client.v1.refunds.list_async({"payment_intent": intent, "limit": 100})).data
        live = [r for r in made if r.status not in ("failed", "canceled")]
        if key:  # a named partial refund: only a refund of that name counts
            live = [r for r in live if (r.metadata or {}).get("refund_key") == key]
        if live and (key or sum(r.amount for r in live) >= amount_fen):
            settled = all(r.status == "succeeded" for r in live)
            return RefundResult(status="refunded" if settled else "pending", amount_fen=sum(r.amount for r in live),
                                reference=live[0].id)
        city = require_city()
        refund = await client.v1.refunds.create_async(
            {
                "payment_intent": intent,
                "amount": amount_fen,
                "reason": "requested_by_customer",
                "metadata": {"booking_ref": booking.id, "city": city.slug, **({"refund_key": key} if key else {})},
            },
        )
        if refund.status in ("failed", "canceled"):
            raise RuntimeError(f"Stripe refund {refund.id} for {booking.id} is {refund.status}")
        return RefundResult(
            status="refunded" if refund.status == "succeeded" else "pending", amount_fen=refund.amount, reference=refund.id
        )

    async def cancel(self, booking, settings: Mapping, secrets: Mapping) -> None:
        """Expire the booking's Checkout Session so it can no longer be paid."""
        if not booking.payment_ref:
            return
        client = client_for(settings, secrets)
        session = await client.v1.checkout.sessions.retrieve_async(booking.payment_ref)
        if session.status != "open":
            return
        try:
            await client.v1.checkout.sessions.expire_async(booking.payment_ref)
        except stripe.InvalidRequestError:  # completed or expired meanwhile: nothing to close
            log.info("Checkout Session %s of %s was no longer open", booking.payment_ref, booking.id)

    def matching_id(self, booking) -> str:
        return booking.payment_ref or booking.id
