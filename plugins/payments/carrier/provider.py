"""The carrier billing provider (运营商代扣, the 12580 model): the fee goes on the member's phone
bill once the member answers the carrier's SMS.

``prepare`` sends the charge request (our order number, derived from the booking, so asking
again is the same order; the member's phone; the fee in fen; what it pays for) and tells the
member to answer the SMS; the carrier's signed result callback (:mod:`.notify`) confirms the
booking. ``execute`` asks the carrier about the order, ``refund`` gives money back (partial
refunds allowed; the refund number is the idempotency key), ``statement`` reads the monthly
statement for reconciliation.

The member's phone comes from the ``pay_phone`` hint of the ``return_url`` (a query parameter
beside the site's ``pay_client`` hints); without it the payment is refused ``phone_required``.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta, timezone
from typing import Mapping
from urllib.parse import parse_qs, urlsplit

import httpx

from guahao.plugin_api import (
    PaymentError,
    PaymentIntent,
    PaymentProvider,
    PaymentResult,
    RefundResult,
    StatementLine,
    TransportError,
    current_city,
    utcnow,
)

from . import orders
from . import statement as statements
from .client import NAME, Gateway, NotConfigured, Refused

log = logging.getLogger("guahao.carrier")

CARRIERS = {"cmcc": "中国移动", "unicom": "中国联通", "telecom": "中国电信"}
_PHONE = re.compile(r"^1[3-9]\d{9}$")


def _city():
    city = current_city()
    if city is None:
        raise LookupError("carrier calls are made for a city")
    return city


def masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) == 11 else "***"


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def phone_hint(return_url: str | None) -> str:
    values = parse_qs(urlsplit(return_url or "").query).get("pay_phone") or [""]
    return values[0].strip()


def notify_url(settings: Mapping, return_url: str | None, slug: str) -> str:
    base = str(settings.get("notify_base_url") or "").rstrip("/")
    if not base and return_url:
        parts = urlsplit(return_url)
        base = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    return f"{base}/c/{slug}/plugins/{NAME}/notify" if base else ""


def _unavailable() -> PaymentError:
    return PaymentError("payment_unavailable", "话费支付暂不可用，请稍后再试或选择其他支付方式。")


class CarrierProvider(PaymentProvider):
    """Registration fees on the member's phone bill (R6.2)."""

    name = NAME
    verbose_name = "话费支付"
    refund_supported = True
    partial_refund_supported = True
    online = True
    charges_phone = True  # core passes the member's mobile number (pay_phone)

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None):
        self.transport = transport

    def gateway(self, settings: Mapping, secrets: Mapping) -> Gateway:
        return Gateway(settings, secrets, transport=self.transport)

    def _order(self, booking) -> str:
        return booking.payment_ref or orders.order_no(_city().id, booking.id)

    async def prepare(self, booking, settings: Mapping, secrets: Mapping, *, return_url: str | None = None,
                      description: str = "") -> PaymentIntent:
        """Send the charge request; the carrier texts the member, who answers ``Y`` to pay."""
        city = _city()
        phone = phone_hint(return_url)
        if not _PHONE.match(phone):
            raise PaymentError("phone_required", "话费支付需要您账户中登记的中国大陆手机号。")
        order = orders.order_no(city.id, booking.id)
        hold_end = booking.hold_expires_at or (utcnow() + timedelta(minutes=city.rules.hold_minutes))
        if hold_end.tzinfo is None:
            hold_end = hold_end.replace(tzinfo=timezone.utc)
        body = {"order_no": order, "phone": phone, "amount_fen": int(booking.fee_fen),
                "description": (description or f"挂号费 {booking.id}")[:60],
                "notify_url": notify_url(settings, return_url, city.slug),
                "expires_at": hold_end.astimezone(timezone.utc).replace(microsecond=0).isoformat()}
        try:
            answer = await self.gateway(settings, secrets).json("POST", "/v1/charges", body)
        except Refused as exc:
            if exc.code == "phone_not_served":
                carrier = CARRIERS.get(str(settings.get("carrier") or ""), "本市合作运营商")
                raise PaymentError("phone_not_served", f"您的手机号不是{carrier}号码，无法使用话费支付。") from exc
            log.warning("carrier refused the charge of %s: %s", booking.id, exc.code)
            raise _unavailable() from exc
        except (TransportError, NotConfigured) as exc:
            log.warning("carrier charge of %s not sent: %s", booking.id, exc)
            raise _unavailable() from exc
        minutes = max(1, int((hold_end - utcnow()).total_seconds() // 60))
        status = str(answer.get("status") or "")
        if status == "succeeded":
            instructions = "该笔话费支付已完成。"
        else:
            instructions = (f"已向手机 {masked(phone)} 发送确认短信。请在 {minutes} 分钟内回复“Y”，"
                            f"确认从话费中支付挂号费 {yuan(int(booking.fee_fen))} 元；回复“N”取消。")
        return PaymentIntent(
            provider=self.name, booking_id=booking.id, amount_fen=int(booking.fee_fen), online=True,
            instructions=instructions, redirect_url=None, reference=order,
            data={"order_no": order, "phone": masked(phone), "status": status,
                  "transaction_id": str(answer.get("transaction_id") or ""), "expires_at": body["expires_at"],
                  "carrier": str(settings.get("carrier") or "")},
        )

    async def query(self, booking, settings: Mapping, secrets: Mapping) -> dict:
        """The order as the carrier sees it; ``{}`` when it knows none."""
        try:
            return await self.gateway(settings, secrets).json("GET", f"/v1/charges/{self._order(booking)}")
        except Refused as exc:
            if exc.code == "not_found":
                return {}
            raise

    async def execute(self, booking, settings: Mapping, secrets: Mapping, *, data: Mapping | None = None) -> PaymentResult:
        """Ask the carrier whether the order was charged (never the member's word); ``pending``
        also when the carrier cannot say right now (its result callback still decides)."""
        try:
            order = await self.query(booking, settings, secrets)
        except (TransportError, NotConfigured) as exc:
            log.warning("carrier could not say whether %s is paid: %s", booking.id, exc)
            order = {}
        paid = order.get("status") == "succeeded"
        amount = order.get("amount_fen")
        return PaymentResult(
            provider=self.name, booking_id=booking.id, status="paid" if paid else "pending",
            payment_ref=str(order.get("order_no") or self._order(booking)),
            amount_fen=amount if paid and isinstance(amount, int) else 0,
        )

    async def cancel(self, booking, settings: Mapping, secrets: Mapping) -> None:
        """Close the unpaid order: a late ``Y`` no longer charges the member."""
        if not booking.payment_ref:
            return
        try:
            await self.gateway(settings, secrets).json("POST", f"/v1/charges/{booking.payment_ref}/close", {})
        except Refused as exc:
            log.info("carrier order %s of %s not closed: %s", booking.payment_ref, booking.id, exc.code)

    async def refund(self, booking, amount_fen: int, settings: Mapping, secrets: Mapping, *, key: str = "",
                     refund_no: str = "", reason: str = "") -> RefundResult:
        """Give back ``amount_fen`` of the order. ``refund_no`` is the idempotency key (by default
        derived from the order and ``key``, the plugin API's name of the refund, else the amount:
        a retried job asks for the same refund). A refund
        the carrier still has under way raises a transient ``TransportError`` (``refund_pending``),
        so the outbox job asks again, with the same number, until it is done."""
        if amount_fen <= 0:
            return RefundResult(status="nothing_to_refund")
        order = self._order(booking)
        number = refund_no or (f"{order}R{key}"[:64] if key else orders.refund_no(order, amount_fen))
        body = {"order_no": order, "refund_no": number, "amount_fen": int(amount_fen), "reason": (reason or "挂号退费")[:60]}
        try:
            answer = await self.gateway(settings, secrets).json("POST", "/v1/refunds", body)
        except Refused as exc:
            if exc.code in ("not_found", "not_charged"):
                return RefundResult(status="nothing_to_refund", reference=number)
            raise
        if answer.get("status") != "succeeded":  # the job asks again with the same number until it is
            raise TransportError(f"carrier refund {number} is {str(answer.get('status'))[:20]}", code="refund_pending")
        return RefundResult(status="refunded", amount_fen=int(amount_fen), reference=number)

    async def statement(self, day: date, settings: Mapping, secrets: Mapping) -> list[StatementLine]:
        """The lines of ``day`` (the city's time zone) from the month's statement, for the daily
        reconciliation; ``[]`` when the carrier has none yet. A payment line's ``provider_ref`` is
        the carrier's transaction id; a refund line's ``provider_ref`` and ``refund_ref`` are the
        refund number the platform gave."""
        city = _city()
        try:
            _, raw, _ = await self.gateway(settings, secrets).call("GET", f"/v1/statements/{day:%Y-%m}")
        except Refused as exc:
            if exc.code == "statement_not_ready":
                return []
            raise
        return [statements.to_line(row, orders.booking_of(row["order_no"], city.id))
                for row in statements.of_day(statements.parse(raw), day, city.tz)]

    def matching_id(self, booking) -> str:
        return self._order(booking)
