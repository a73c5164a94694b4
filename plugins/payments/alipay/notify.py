"""Alipay's calls to the platform, under ``/c/{city}/plugins/alipay/``.

``POST notify`` — the asynchronous notify (form-encoded). The RSA2 signature over the sorted
parameters (all but ``sign`` and ``sign_type``) is verified with the ``alipay_public_key``
of the app the trade was paid into (its hospital's own, else the city's); the ``app_id`` must
be that app's; each ``notify_id`` is acted on once
(``alipay_notifies``). ``TRADE_SUCCESS``/``TRADE_FINISHED`` confirm the held booking through
core's ``payment_received`` (the amount must be the fee; money after the hold is refunded
through the outbox); a notify with ``refund_fee`` settles a refund (:mod:`.refunds`); other
states are acknowledged. The answer is the plain text ``success`` only when the notify was
handled (or handled before); anything else is ``fail``, so Alipay tries again.

``GET return/{target}`` — where Alipay sends the member's browser after paying. Its signature
is checked, but it never counts as payment: the member goes on to the platform's page, which
asks Alipay (``alipay.trade.query``) unless the notify came first.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import parse_qsl

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from guahao.core import payments
from guahao.core.booking.inventory import released_periods
from guahao.core.booking.service import clear_gate
from guahao.core.errors import DomainError
from guahao.core.models import Booking
from guahao.plugin_api import city_session, use_city

from . import links, refunds, trades
from .gateway import AlipayNotConfigured, Gateway
from .models import AlipayNotify
from .money import fen
from .provider import NAME, PAID_STATES

log = logging.getLogger("guahao.alipay")

MAX_BODY = 32 * 1024
OK, FAIL = "success", "fail"


def _answer(text: str, status: int = 200, code: str = "") -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status, headers={"X-Error-Code": code} if code else None)


async def _gateway(request: Request, trade: str = "") -> Gateway | None:
    """The Alipay app a trade was paid into: its booking's hospital's own, else the city's
    (``None`` when neither has its keys)."""
    rt, city = request.app.state.rt, request.state.city
    plugins = await rt.plugins.for_city(city)
    hospital_id = None
    booking_id = trades.booking_of(trade, city.id)
    if booking_id:
        async with city_session(rt, city) as s:
            hospital_id = await s.scalar(select(Booking.hospital_id).where(Booking.id == booking_id))
    try:
        return Gateway(plugins.settings(NAME, hospital_id), plugins.secrets(NAME, hospital_id))
    except AlipayNotConfigured:
        return None


def _form(raw: bytes) -> dict[str, str] | None:
    """The notify's fields; ``None`` for a body that is not a plain form (or repeats a name)."""
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return None
    fields = dict(pairs)
    return fields if len(fields) == len(pairs) else None


async def notify(request: Request) -> Response:
    rt, city = request.app.state.rt, request.state.city
    length = request.headers.get("content-length") or "0"
    if not length.isdigit():
        return _answer(FAIL, 400, "invalid_payload")
    if int(length) > MAX_BODY:
        return _answer(FAIL, 413, "payload_too_large")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            return _answer(FAIL, 413, "payload_too_large")
    fields = _form(raw)
    if fields is None:
        return _answer(FAIL, 400, "invalid_payload")
    gw = await _gateway(request, str(fields.get("out_trade_no", "")))
    if gw is None:  # fail closed: nothing is believed without the keys
        return _answer(FAIL, 400, "notify_not_configured")
    if not gw.verify(fields):
        log.warning("Alipay notify with a bad signature for city %s", city.slug)
        return _answer(FAIL, 400, "invalid_signature")
    if not 0 < len(fields.get("notify_id", "")) <= 128:
        return _answer(FAIL, 400, "invalid_payload")
    with use_city(city):
        outcome, _, detail = await _handle(rt, city, fields, gw.app_id)
    if outcome == "refused":
        return _answer(FAIL, 409, detail.split(":", 1)[0])
    return _answer(OK)


async def _seen(rt, notify_id: str) -> str | None:
    async with rt.db.transaction() as s:
        return await s.scalar(select(AlipayNotify.outcome).where(AlipayNotify.notify_id == notify_id))


def _row(fields: dict, booking_id: str, outcome: str, detail: str = "") -> AlipayNotify:
    return AlipayNotify(
        notify_id=fields["notify_id"][:128], trade_status=str(fields.get("trade_status", ""))[:32],
        out_trade_no=str(fields.get("out_trade_no", ""))[:64], trade_no=str(fields.get("trade_no", ""))[:64],
        booking_id=booking_id, outcome=outcome, detail=detail[:300],
    )


def _amounts(fields: dict) -> tuple[int, int]:
    """``(total_amount, refund_fee)`` in fen; raises ``ValueError`` on a malformed amount."""
    refund = fields.get("refund_fee") or ""
    return fen(fields.get("total_amount", "")), (fen(refund) if refund else 0)


async def _handle(rt, city, fields: dict, app_id: str) -> tuple[str, str, str]:
    """Act on one verified notify once; returns ``(outcome, booking id, detail)``."""
    seen = await _seen(rt, fields["notify_id"])
    if seen is not None:
        return ("refused" if seen == "refused" else "duplicate"), "", f"notify_refused: seen before ({seen})"
    trade, status = str(fields.get("out_trade_no", "")), str(fields.get("trade_status", ""))
    booking_id = trades.booking_of(trade, city.id)
    outcome, detail = "", ""
    try:
        total, refunded = _amounts(fields)
    except ValueError:
        outcome, detail = "refused", "invalid_amount: total_amount or refund_fee is not an amount in yuan"
        total = refunded = 0
    if outcome:
        pass
    elif fields.get("app_id") != app_id:
        outcome, detail = "refused", f"wrong_app_id: the notify is for app {str(fields.get('app_id'))[:32]!r}"
    elif not booking_id:
        outcome, detail = "ignored", "the trade names no booking of this city"
    elif not refunded and status not in PAID_STATES:
        outcome, detail = "ignored", f"trade {status}"
    try:
        async with rt.db.transaction() as s:
            if not outcome:
                try:
                    if refunded:
                        outcome, detail = await refunds.refund_notice(s, booking_id, trade, total, refunded, fields)
                    else:
                        outcome = await payments.payment_received(
                            s, booking_id, provider=NAME, payment_ref=trade, amount_fen=total)
                except DomainError as exc:
                    raise _Refused(exc) from None
            s.add(_row(fields, booking_id, outcome, detail))
            freed = released_periods(s)
    except _Refused as refused:  # the change rolled back; the refusal itself is kept
        outcome, detail = "refused", f"{refused.error.code}: {refused.error.message}"
        freed = set()
        try:
            async with rt.db.transaction() as s:
                s.add(_row(fields, booking_id, outcome, detail))
        except IntegrityError:
            return "duplicate", booking_id, ""
    except IntegrityError:  # the same notify, delivered twice at once: the other one acted
        return "duplicate", booking_id, ""
    if outcome == "refused":
        log.error("Alipay notify %s (%s) for trade %s refused: %s", fields["notify_id"], status, trade, detail)
    await clear_gate(rt, city, freed)
    return outcome, booking_id, detail


class _Refused(Exception):
    def __init__(self, error: DomainError):
        super().__init__(error.code)
        self.error = error


# --- the member's browser -------------------------------------------------------------------

PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>支付宝 / Alipay</title>
<main>
<h1 id="state" data-state="{state}">{title}</h1><p>{text}</p>{link}</main></html>"""


def _page(status: int, state: str, title: str, text: str, href: str = "") -> HTMLResponse:
    link = f'<p><a id="next" href="{html.escape(href)}">查看预约 / My booking</a></p>' if href else ""
    return HTMLResponse(PAGE.format(state=state, title=title, text=text, link=link), status_code=status)


async def returned(request: Request) -> Response:
    """Back from Alipay: checked, never taken as payment; on to the platform's own page."""
    city = request.state.city
    target = links.target_path(request.path_params["target"], city.slug)
    if target is None:
        return _page(404, "unknown", "找不到页面 / Not found",
                     "这个地址不是本市的页面。 This address is not one of this city's pages.")
    fields = dict(request.query_params)
    gw = await _gateway(request, str(fields.get("out_trade_no", "")))
    if gw is None or not gw.verify(fields):
        log.warning("Alipay return with a bad signature for city %s", city.slug)
        return _page(400, "unverified", "无法确认支付结果 / Payment not confirmed",
                     "支付宝返回的信息签名无效。支付结果以支付宝的通知为准，请在“我的预约”中查看。"
                     " The details Alipay sent back do not verify; the booking shows the payment once Alipay confirms it.",
                     target)
    return RedirectResponse(target, status_code=303)


def notify_routes() -> list:
    return [
        Route("/notify", notify, methods=["POST"]),
        Route("/return/{target}", returned, methods=["GET"]),
    ]
