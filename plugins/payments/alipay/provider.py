"""The Alipay payment provider (支付宝): page pay on a computer, wap pay in a phone's browser,
a QR code (precreate, 当面付) at the kiosk; query, close, refund and the daily statement.

City settings (``alipay`` plugin): ``app_id``, ``gateway`` (Alipay's by default; tests point
it at a local fake), ``sign_type`` (RSA2), ``timeout``, ``notify_base_url``. Secrets:
``app_private_key`` and ``alipay_public_key`` (PEM or the bare base64 Alipay's tool shows).

Every trade is named by the booking (``out_trade_no``, see :mod:`.trades`), so asking again
never opens a second trade; a refund's ``out_request_no`` is derived from the trade and the
amount, so a retried refund job never refunds twice. Amounts are integer fen here and yuan
strings ("50.00") in Alipay's parameters (:mod:`.money`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Mapping

import httpx

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

from . import bills, links, trades
from .gateway import AlipayRefused, Gateway, beijing_time
from .money import fen, yuan

log = logging.getLogger("guahao.alipay")

NAME = "alipay"
KIOSK = "kiosk"
MOBILE_CLIENTS = ("mobile", "wechat")  # the site's pay_client hints of a phone's browser
PAID_STATES = ("TRADE_SUCCESS", "TRADE_FINISHED")
PAGE_PAY, WAP_PAY = "alipay.trade.page.pay", "alipay.trade.wap.pay"
PRODUCT = {PAGE_PAY: "FAST_INSTANT_TRADE_PAY", WAP_PAY: "QUICK_WAP_PAY"}


def _city():
    city = current_city()
    if city is None:
        raise LookupError("Alipay calls are made for a city")
    return city


def _with_query(url: str, query: str) -> str:
    return url + ("&" if "?" in url else "?") + query


@dataclass(frozen=True)
class Order:
    """One booking's trade as the pay calls name it."""

    trade: str  # out_trade_no
    fee_fen: int
    subject: str
    time_expire: str  # Beijing time
    return_url: str = ""  # where Alipay sends the browser back (the plugin's return route)
    notify_url: str = ""
    quit_url: str = ""  # wap pay: where leaving the cashier goes

    def biz(self, method: str) -> dict:
        """``biz_content`` of a page or wap pay."""
        biz = {"out_trade_no": self.trade, "total_amount": yuan(self.fee_fen), "subject": self.subject,
               "product_code": PRODUCT[method], "time_expire": self.time_expire}
        if method == WAP_PAY and self.quit_url:
            biz["quit_url"] = self.quit_url
        return biz

    def addresses(self) -> dict:
        """The common parameters a pay call adds (``return_url``, ``notify_url``), when known."""
        return {k: v for k, v in (("return_url", self.return_url), ("notify_url", self.notify_url)) if v}


class AlipayProvider(PaymentProvider):
    """Registration fees paid with Alipay (R6.2)."""

    name = NAME
    verbose_name = "支付宝"
    refund_supported = True
    partial_refund_supported = True
    online = True

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None):
        self.transport = transport

    def gateway(self, settings: Mapping, secrets: Mapping) -> Gateway:
        return Gateway(settings, secrets, transport=self.transport)

    # --- paying -----------------------------------------------------------------------------

    async def prepare(
        self, booking, settings: Mapping, secrets: Mapping, *, return_url: str | None = None, description: str = ""
    ) -> PaymentIntent:
        """Page pay for a computer, wap pay for a phone's browser (the site's ``pay_client``
        hint), a QR code for the kiosk. Page and wap pay are signed here and opened by the
        member's browser (``redirect_url``; both in ``data``); precreate asks Alipay."""
        city = _city()
        gw = self.gateway(settings, secrets)
        trade = trades.out_trade_no(city.id, booking.id)
        hold_end = booking.hold_expires_at or (utcnow() + timedelta(minutes=city.rules.hold_minutes))
        site = links.site_of(settings, return_url)
        root = links.plugin_root(site, city.slug) if site else ""
        order = Order(
            trade=trade, fee_fen=booking.fee_fen, subject=(description or f"挂号费 {booking.id}")[:120],
            time_expire=beijing_time(hold_end),
            return_url=f"{root}/return/{links.return_target(return_url)}" if root and return_url else "",
            notify_url=f"{root}/notify" if root else "",
            quit_url=_with_query(links.without_hints(return_url), "cancelled=1") if return_url else "",
        )
        client = links.pay_client(return_url)
        if booking.channel == KIOSK or client == KIOSK:
            return await self._precreate(booking, gw, order)
        page = gw.page_url(PAGE_PAY, order.biz(PAGE_PAY), **order.addresses())
        wap = gw.page_url(WAP_PAY, order.biz(WAP_PAY), **order.addresses())
        return PaymentIntent(
            provider=self.name, booking_id=booking.id, amount_fen=booking.fee_fen, online=True,
            instructions="请在支付宝页面完成付款。", redirect_url=wap if client in MOBILE_CLIENTS else page,
            reference=trade, data={"out_trade_no": trade, "page_url": page, "wap_url": wap, "time_expire": order.time_expire},
        )

    async def _precreate(self, booking, gw: Gateway, order: Order) -> PaymentIntent:
        biz = {"out_trade_no": order.trade, "total_amount": yuan(order.fee_fen), "subject": order.subject,
               "time_expire": order.time_expire}
        try:
            notify = {"notify_url": order.notify_url} if order.notify_url else {}  # no browser comes back
            answer = await gw.call("alipay.trade.precreate", biz, **notify)
            qr = str(answer.get("qr_code") or "")
            if not qr:
                raise TransportError("alipay.trade.precreate answered without a qr_code", permanent=True, code="no_qr_code")
        except TransportError as exc:
            log.warning("Alipay refused a QR code for %s: %s", booking.id, exc)
            raise PaymentError("payment_unavailable", "支付宝支付暂不可用，请稍后再试或联系医院。") from exc
        return PaymentIntent(
            provider=self.name, booking_id=booking.id, amount_fen=booking.fee_fen, online=True,
            instructions="请用支付宝扫描二维码付款。", redirect_url=None, reference=order.trade,
            data={"out_trade_no": order.trade, "qr_url": qr, "time_expire": order.time_expire},
        )

    def _trade(self, booking) -> str:
        return booking.payment_ref or trades.out_trade_no(_city().id, booking.id)

    async def query(self, booking, settings: Mapping, secrets: Mapping) -> dict:
        """The trade as Alipay sees it (``alipay.trade.query``); ``{}`` when it does not exist
        (a page pay whose member never logged in to Alipay)."""
        answer = await self.gateway(settings, secrets).call(
            "alipay.trade.query", {"out_trade_no": self._trade(booking)}, ok=("ACQ.TRADE_NOT_EXIST",))
        return {} if answer.get("sub_code") == "ACQ.TRADE_NOT_EXIST" else answer

    async def execute(self, booking, settings: Mapping, secrets: Mapping, *, data: Mapping | None = None) -> PaymentResult:
        """Ask Alipay whether the booking's trade was paid (never the return page's word)."""
        trade = await self.query(booking, settings, secrets)
        paid = trade.get("trade_status") in PAID_STATES
        return PaymentResult(
            provider=self.name, booking_id=booking.id, status="paid" if paid else "pending",
            payment_ref=str(trade.get("out_trade_no") or self._trade(booking)),
            amount_fen=fen(trade["total_amount"]) if paid else 0,
        )

    async def cancel(self, booking, settings: Mapping, secrets: Mapping) -> None:
        """Close the booking's unpaid trade (``alipay.trade.close``) so it can no longer be paid."""
        if not booking.payment_ref:
            return
        answer = await self.gateway(settings, secrets).call(
            "alipay.trade.close", {"out_trade_no": booking.payment_ref},
            ok=("ACQ.TRADE_NOT_EXIST", "ACQ.TRADE_STATUS_ERROR", "ACQ.TRADE_HAS_CLOSE"))
        if answer.get("sub_code"):
            log.info("Alipay trade %s of %s not closed: %s", booking.payment_ref, booking.id, answer["sub_code"])

    # --- refunds ----------------------------------------------------------------------------

    async def refund(self, booking, amount_fen: int, settings: Mapping, secrets: Mapping, *, key: str = "",
                     out_request_no: str = "", reason: str = "") -> RefundResult:
        """Refund ``amount_fen`` of the booking's trade (``alipay.trade.refund``).

        ``out_request_no`` names the refund (idempotency key); by default it is derived from the
        trade and ``key`` (the plugin API's name of the refund), else the amount, so a job asking
        again for the same refund gets the first one's answer. Two separate partial refunds of the
        same amount need keys of their own.
        """
        if amount_fen <= 0:
            return RefundResult(status="nothing_to_refund")
        gw = self.gateway(settings, secrets)
        trade = self._trade(booking)
        request_no = out_request_no or (f"{trade}_{key}"[:64] if key else trades.refund_request_no(trade, amount_fen))
        biz = {"out_trade_no": trade, "refund_amount": yuan(amount_fen), "out_request_no": request_no,
               "refund_reason": (reason or "挂号退费")[:60]}
        try:
            answer = await gw.call("alipay.trade.refund", biz)
        except AlipayRefused as exc:
            if exc.code == "ACQ.TRADE_NOT_EXIST":
                return RefundResult(status="nothing_to_refund", reference=request_no)
            raise
        if answer.get("fund_change") == "Y":
            return RefundResult(status="refunded", amount_fen=amount_fen, reference=request_no)
        # "N": this request was refunded before (a retried job) or is still under way: ask.
        settled = await gw.call("alipay.trade.fastpay.refund.query", {"out_trade_no": trade, "out_request_no": request_no})
        done = settled.get("refund_status") == "REFUND_SUCCESS" or (
            "refund_status" not in settled and settled.get("refund_amount"))
        return RefundResult(status="refunded" if done else "pending", amount_fen=amount_fen, reference=request_no)

    # --- reconciliation ---------------------------------------------------------------------

    async def statement(self, day: date, settings: Mapping, secrets: Mapping) -> list[dict]:
        """The day's trade statement (``bill_type=trade``): one dict per payment or refund line
        (see :func:`.bills.parse`); ``[]`` when Alipay has no statement for the day."""
        gw = self.gateway(settings, secrets)
        answer = await gw.call("alipay.data.dataservice.bill.downloadurl.query",
                               {"bill_type": "trade", "bill_date": day.isoformat()}, ok=("isp.bill_not_exist",))
        if answer.get("sub_code") == "isp.bill_not_exist":
            return []
        lines = bills.parse(await gw.download(str(answer["bill_download_url"])))
        city = current_city()
        for line in lines:
            line["booking_id"] = trades.booking_of(line["out_trade_no"], city.id) if city else ""
        return lines

    def matching_id(self, booking) -> str:
        return self._trade(booking)
