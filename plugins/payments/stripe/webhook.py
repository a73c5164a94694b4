"""Stripe's webhook: ``POST /c/{city}/plugins/stripe/webhook``.

The ``Stripe-Signature`` header is verified with the city's endpoint secret (``whsec_…``)
by ``stripe.Webhook.construct_event`` (300 s tolerance); a bad, missing or stale signature is
answered 400 with a code and changes nothing. Each verified event is stored once per city
(``stripe_webhook_events``), so Stripe's redeliveries are answered 200 without acting twice.

``checkout.session.completed`` (and ``…async_payment_succeeded``) with ``payment_status`` paid
confirm the held booking named in the session's metadata; the amount and currency must be the
booking's, or the event is refused and logged. Money that arrives after the hold ended is
refunded (see ``core.payments.checkout``). Refund events settle a refund that was pending, or
make a failed one visible (see :mod:`.refunds`). Other events are acknowledged and ignored:
the booking's own hold decides when an unpaid unit goes back.
"""

from __future__ import annotations

import logging

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from guahao.core import payments
from guahao.core.booking.inventory import released_periods
from guahao.core.booking.service import clear_gate
from guahao.core.errors import DomainError
from guahao.tenants.context import use_city

from . import refunds
from .models import StripeWebhookEvent
from .provider import NAME, currency_of

log = logging.getLogger("guahao.stripe")

TOLERANCE_SECONDS = 300
MAX_BODY = 256 * 1024
PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _booking_ref(session: dict) -> str:
    metadata = session.get("metadata") or {}
    return str(metadata.get("booking_ref") or session.get("client_reference_id") or "")[:24]


async def webhook(request: Request) -> JSONResponse:
    rt = request.app.state.rt
    city = request.state.city
    plugins = await rt.plugins.for_city(city)
    settings, secrets = plugins.settings(NAME), plugins.secrets(NAME)
    secret = str(secrets.get("webhook_secret") or "")
    if not secret:  # fail closed: nothing is believed without the city's endpoint secret
        return _error(400, "webhook_not_configured", "this city has no Stripe webhook secret")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _error(413, "payload_too_large", "request body too large")
    try:
        event = stripe.Webhook.construct_event(
            raw.decode("utf-8"), request.headers.get("stripe-signature", ""), secret, tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError:
        log.warning("Stripe webhook with a bad signature for city %s", city.slug)
        return _error(400, "invalid_signature", "Stripe-Signature does not verify")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "invalid_payload", "body is not a Stripe event")
    body = event.to_dict()
    with use_city(city):
        outcome, booking_id, detail = await _handle(rt, city, body, currency_of(settings))
    return JSONResponse({"received": True, "outcome": outcome, **({"detail": detail} if detail else {})})


async def _seen(rt, event_id: str) -> bool:
    async with rt.db.transaction() as s:
        return await s.scalar(select(StripeWebhookEvent.id).where(StripeWebhookEvent.event_id == event_id)) is not None


def _row(body: dict, booking_id: str, outcome: str, detail: str = "") -> StripeWebhookEvent:
    return StripeWebhookEvent(
        event_id=str(body.get("id", ""))[:255], type=str(body.get("type", ""))[:80], booking_id=booking_id,
        outcome=outcome, detail=detail[:300],
    )


async def _handle(rt, city, body: dict, currency: str) -> tuple[str, str, str]:
    """Act on one verified event once; returns ``(outcome, booking id, detail)``."""
    event_id, kind = str(body.get("id", "")), str(body.get("type", ""))
    if not event_id:
        return "ignored", "", "event without id"
    if await _seen(rt, event_id):
        return "duplicate", "", ""
    session = ((body.get("data") or {}).get("object")) or {}
    booking_id = _booking_ref(session) if kind.startswith("checkout.session.") else ""
    refusal = ""
    if kind in refunds.REFUND_EVENTS or kind == refunds.CHARGE_REFUNDED:
        outcome = ""  # settled in the transaction below
    elif kind not in PAID_EVENTS or session.get("payment_status") != "paid":
        outcome = "ignored"
    elif not booking_id or (session.get("metadata") or {}).get("city") not in (None, city.slug):
        outcome, refusal = "refused", "the session names no booking of this city"
    elif str(session.get("currency", "")).lower() != currency:
        outcome, refusal = "refused", f"currency {session.get('currency')!r} is not {currency!r}"
    else:
        outcome = ""
    try:
        async with rt.db.transaction() as s:
            if kind in refunds.REFUND_EVENTS:
                outcome, booking_id, refusal = await refunds.refund_changed(s, city.slug, session)
            elif kind == refunds.CHARGE_REFUNDED:
                outcome, booking_id, refusal = await refunds.charge_refunded(s, city.slug, session)
            elif not outcome:
                try:
                    outcome = await payments.payment_received(
                        s, booking_id, provider=NAME, payment_ref=str(session.get("id", "")),
                        amount_fen=int(session.get("amount_total") or 0),
                    )
                except DomainError as exc:
                    raise _Refused(exc) from None
            s.add(_row(body, booking_id, outcome, refusal))
            freed = released_periods(s)
    except _Refused as refused:  # the change rolled back; the refusal itself is kept
        outcome, refusal = "refused", f"{refused.error.code}: {refused.error.message}"
        freed = set()
        try:
            async with rt.db.transaction() as s:
                s.add(_row(body, booking_id, outcome, refusal))
        except IntegrityError:
            return "duplicate", booking_id, ""
    except IntegrityError:  # the same event, delivered twice at once: the other one acted
        return "duplicate", booking_id, ""
    if outcome == "refused":
        log.error("Stripe event %s (%s) for booking %s refused: %s", event_id, kind, booking_id, refusal)
    await clear_gate(rt, city, freed)
    return outcome, booking_id, refusal


class _Refused(Exception):
    def __init__(self, error: DomainError):
        super().__init__(error.code)
        self.error = error


def webhook_routes() -> list:
    return [Route("/webhook", webhook, methods=["POST"])]
