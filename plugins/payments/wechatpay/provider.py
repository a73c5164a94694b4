"""The WeChat Pay provider: Native (QR code), H5 and JSAPI orders, query, close, refunds and
the daily trade bill, through :class:`.client.WeChatPayClient` with the city's (or the
hospital's) merchant keys.

Which order a payment opens depends on where the member pays (see :mod:`.trade`): inside
WeChat with a known openid a JSAPI order (``PaymentIntent.data["jsapi"]`` holds the signed
``WeixinJSBridge`` parameters), in another mobile browser an H5 order (``redirect_url`` is
WeChat Pay's ``h5_url``), elsewhere — computers, kiosks — a Native order whose ``code_url``
is shown as a QR code (``PaymentIntent.data["qr_url"]``). The booking's ``payment_ref`` is the
order's ``out_trade_no``.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, timedelta, timezone
from typing import Mapping
from urllib.parse import quote

from guahao.plugin_api import (
    PaymentError,
    PaymentIntent,
    PaymentProvider,
    PaymentResult,
    RefundResult,
    TransportError,
    current_city,
    utcnow,
)

from . import bill, signing, trade
from .client import NAME, WeChatPayClient

log = logging.getLogger("guahao.wechatpay")

CURRENCY = "CNY"
NOTIFY_PATH = "/c/{slug}/plugins/wechatpay/notify"


def _unavailable() -> PaymentError:
    return PaymentError("payment_unavailable", "微信支付暂不可用，请稍后再试或联系医院。")


def notify_url(settings: Mapping, return_url: str = "") -> str:
    """Where WeChat Pay sends this city's callbacks: the ``notify_url`` setting, else this
    platform's route on the site the member pays from; ``""`` when neither is known."""
    configured = str(settings.get("notify_url") or "")
    if configured:
        return configured
    city, base = current_city(), trade.origin(return_url)
    return base + NOTIFY_PATH.format(slug=city.slug) if city and base else ""


def _expire_at(booking) -> str:
    """RFC 3339 end of the order (the hold's end, in the city's time), stable per booking."""
    city = current_city()
    end = booking.hold_expires_at or (utcnow() + timedelta(minutes=city.rules.hold_minutes if city else 15))
    if end.tzinfo is None:
        end = end.replace(tzinfo=timezone.utc)
    return end.astimezone(city.tz if city else None).replace(microsecond=0).isoformat()


class WeChatPay(PaymentProvider):
    """WeChat Pay API v3 (R6.2).

    Parameters:
        transport: an ``httpx`` transport for the calls (tests); default the network.
    """

    name = NAME
    verbose_name = "微信支付"
    refund_supported = True
    partial_refund_supported = True
    online = True

    def __init__(self, transport=None) -> None:
        self.transport = transport

    def client(self, settings: Mapping, secrets: Mapping) -> WeChatPayClient:
        return WeChatPayClient(settings, secrets, transport=self.transport)

    async def prepare(self, booking, settings: Mapping, secrets: Mapping, *, return_url: str | None = None,
                      description: str = "") -> PaymentIntent:
        hints = trade.read_hints(return_url)
        kind = trade.NATIVE if getattr(booking, "channel", "") == "kiosk" else hints.trade_type()
        city = current_city()
        trade_no = trade.out_trade_no(booking.id, kind)
        notify = notify_url(settings, hints.return_url)
        if not notify:  # neither a notify_url setting nor an absolute return address
            log.error("WeChat Pay for %s: no notify_url setting and no site address to derive it from", booking.id)
            raise _unavailable()
        body: dict = {
            "appid": str(settings.get("appid") or ""), "mchid": str(settings.get("mchid") or ""),
            "description": (description or f"挂号费 {booking.id}")[:127], "out_trade_no": trade_no,
            "time_expire": _expire_at(booking), "attach": f"{city.slug if city else ''}:{booking.id}"[:128],
            "notify_url": notify, "amount": {"total": int(booking.fee_fen), "currency": CURRENCY},
        }
        if kind == trade.H5:
            body["scene_info"] = {"payer_client_ip": hints.ip, "h5_info": {"type": "Wap"}}
        elif kind == trade.JSAPI:
            body["payer"] = {"openid": hints.openid}
        try:
            async with self.client(settings, secrets) as api:
                answer = await api.json("POST", trade.PATHS[kind], body=body)
        except TransportError as exc:
            if exc.code == "ORDERPAID":  # paid already: the member's return checks it
                return PaymentIntent(provider=self.name, booking_id=booking.id, amount_fen=booking.fee_fen, online=True,
                                     instructions="已支付。", reference=trade_no, data={"trade_type": kind, "paid": True})
            log.warning("WeChat Pay refused a %s order for %s: %s", kind, booking.id, exc)
            raise _unavailable() from exc
        if not isinstance(answer.get({trade.NATIVE: "code_url", trade.H5: "h5_url"}.get(kind, "prepay_id")), str):
            log.warning("WeChat Pay answered a %s order for %s without its link", kind, booking.id)
            raise _unavailable()
        data: dict = {"trade_type": kind, "expires_at": body["time_expire"]}
        redirect = None
        if kind == trade.NATIVE:
            data["qr_url"] = str(answer["code_url"])
            instructions = "请使用微信“扫一扫”扫描二维码支付。"
        elif kind == trade.H5:
            redirect = str(answer["h5_url"])
            if hints.return_url:
                redirect += ("&" if "?" in redirect else "?") + "redirect_url=" + quote(hints.return_url, safe="")
            instructions = "请在微信支付页面完成付款。"
        else:
            data["prepay_id"] = str(answer["prepay_id"])
            data["jsapi"] = signing.jsapi_parameters(appid=body["appid"], prepay_id=data["prepay_id"],
                                                     private_pem=str(secrets.get("private_key") or ""))
            if hints.return_url:
                data["return_url"] = hints.return_url
            instructions = "请在微信中确认付款。"
        return PaymentIntent(provider=self.name, booking_id=booking.id, amount_fen=booking.fee_fen, online=True,
                             instructions=instructions, redirect_url=redirect, reference=trade_no, data=data)

    async def query(self, trade_no: str, settings: Mapping, secrets: Mapping) -> dict | None:
        """The order as WeChat Pay has it (``trade_state``, ``amount`` …); ``None`` if unknown."""
        try:
            async with self.client(settings, secrets) as api:
                return await api.json("GET", f"/v3/pay/transactions/out-trade-no/{quote(trade_no, safe='')}",
                                      query={"mchid": str(settings.get("mchid") or "")})
        except TransportError as exc:
            if exc.code == "ORDER_NOT_EXIST":
                return None
            raise

    async def execute(self, booking, settings: Mapping, secrets: Mapping, *, data: Mapping | None = None) -> PaymentResult:
        """Ask WeChat Pay whether the booking's order has been paid; ``pending`` when it is not,
        or when WeChat Pay cannot say right now (its notification still decides)."""
        try:
            order = await self.query(booking.payment_ref, settings, secrets) if trade.booking_of(booking.payment_ref) else None
        except TransportError as exc:
            log.warning("WeChat Pay could not say whether %s is paid: %s", booking.id, exc)
            order = None
        amount = (order or {}).get("amount")
        total = amount.get("total") if isinstance(amount, dict) else None
        paid = bool(order) and order.get("trade_state") == "SUCCESS" and isinstance(total, int)
        return PaymentResult(provider=self.name, booking_id=booking.id, status="paid" if paid else "pending",
                             payment_ref=booking.payment_ref, amount_fen=int(total) if paid else 0)

    async def refund(self, booking, amount_fen: int, settings: Mapping, secrets: Mapping, *, key: str = "") -> RefundResult:
        """Refund ``amount_fen`` of the booking's order. ``out_refund_no`` is derived from the
        order and ``key`` (default: the amount), so a retried job asks for the same refund and
        WeChat Pay answers with the one it already made; a second partial refund of the same
        amount needs its own ``key``. A refund still processing is ``pending`` (its notice
        settles it) when a ``notify_url`` is set; without one the call raises, so the outbox
        asks again until WeChat Pay says it is done."""
        trade_no = booking.payment_ref
        if amount_fen <= 0 or not trade.booking_of(trade_no):
            return RefundResult(status="nothing_to_refund")
        body: dict = {
            "out_trade_no": trade_no, "out_refund_no": trade.refund_no(trade_no, key or str(amount_fen)),
            "reason": "挂号费退款",
            "amount": {"refund": int(amount_fen), "total": int(booking.fee_fen), "currency": CURRENCY},
        }
        notify = notify_url(settings)
        if notify:
            body["notify_url"] = notify
        async with self.client(settings, secrets) as api:
            answer = await api.json("POST", "/v3/refund/domestic/refunds", body=body)
        status = str(answer.get("status", ""))
        if status in ("CLOSED", "ABNORMAL"):
            raise TransportError(f"refund {answer.get('out_refund_no')} of {booking.id} is {status}", permanent=False,
                                 code=status)
        if status == "PROCESSING" and not notify:
            # No notice will come: the job asks again later (same out_refund_no) until it is done.
            raise TransportError(f"refund {answer.get('out_refund_no')} of {booking.id} is still processing; "
                                 "asking again later (no notify_url set)", permanent=False, code=status)
        return RefundResult(status="refunded" if status == "SUCCESS" else "pending",
                            amount_fen=int((answer.get("amount") or {}).get("refund") or amount_fen),
                            reference=str(answer.get("refund_id") or answer.get("out_refund_no") or ""))

    async def cancel(self, booking, settings: Mapping, secrets: Mapping) -> None:
        """Close the booking's order so it can no longer be paid."""
        if not trade.booking_of(booking.payment_ref):
            return
        try:
            async with self.client(settings, secrets) as api:
                await api.call("POST", f"/v3/pay/transactions/out-trade-no/{quote(booking.payment_ref, safe='')}/close",
                               body={"mchid": str(settings.get("mchid") or "")})
        except TransportError as exc:
            if exc.code in ("ORDER_NOT_EXIST", "ORDERPAID", "ORDER_CLOSED"):
                log.info("WeChat Pay order %s of %s not closed: %s", booking.payment_ref, booking.id, exc.code)
                return
            raise

    async def statement(self, day: date, settings: Mapping, secrets: Mapping) -> list[dict]:
        """The day's trade bill (``bill_type=ALL``) as rows with amounts in fen and the booking
        each order belongs to (``booking_id``, ``""`` for orders not ours). An empty day (WeChat
        Pay's ``NO_STATEMENT_EXIST``) has no rows."""
        async with self.client(settings, secrets) as api:
            try:
                found = await api.json("GET", "/v3/bill/tradebill", query={"bill_date": day.isoformat(), "bill_type": "ALL"})
            except TransportError as exc:
                if exc.code == "NO_STATEMENT_EXIST":
                    return []
                raise
            file = await api.call("GET", str(found["download_url"]), verify=False)
        expected = str(found.get("hash_value") or "").lower()
        if str(found.get("hash_type") or "SHA1").upper() == "SHA1" and hashlib.sha1(file.content).hexdigest() != expected:
            raise TransportError("the trade bill's SHA1 does not match", permanent=False, code="bad_response")
        rows, _summary = bill.parse_trade_bill(file.content.decode("utf-8"))
        for row in rows:
            row["booking_id"] = trade.booking_of(row.get("out_trade_no", ""))
        return rows

    def matching_id(self, booking) -> str:
        return booking.payment_ref or booking.id
