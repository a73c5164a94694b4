"""In-clinic fee payments (诊间缴费) for city and hospital administrators: a day's paid fee
orders with their items, what the HIS made of each payment, and refunding returned items (a
drug taken back at the pharmacy) — a partial refund through the provider, audited. A hospital's
administrator sees and refunds only its own hospital's orders (another's answers 404)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.errors import DomainError
from guahao.core.models import FeeOrder, Hospital
from guahao.core.payments import fees
from guahao.tenants.clock import utcnow

from ..kit.pages import Console, console_page
from .finance import day_param

CAPABILITY = "deliveries.manage"  # as Finance: city and hospital administrators
ITEM = "item:"


def _hospital(c: Console) -> int | None:
    return c.principal.hospital_id if c.principal is not None else None


def _day(c: Console) -> date:
    return day_param(c, utcnow().astimezone(c.city.tz).date())


async def _page(c: Console, day: date, *, status: int = 200, error: str | None = None, failed: str = "") -> Response:
    start = datetime.combine(day, time.min, tzinfo=c.city.tz)
    q = select(FeeOrder).where(FeeOrder.paid_at >= start, FeeOrder.paid_at < start + timedelta(days=1),
                               FeeOrder.status.in_(("paid", "refunding", "refunded"))).order_by(FeeOrder.paid_at)
    if _hospital(c) is not None:
        q = q.where(FeeOrder.hospital_id == _hospital(c))
    async with c.transaction() as s:
        orders = list((await s.scalars(q)).all())
        names = dict((await s.execute(select(Hospital.id, Hospital.name))).all())
    totals = {"paid": sum(o.amount_fen for o in orders), "refunded": sum(fees.refunded_fen(o) for o in orders)}
    return c.render("fee_orders.html", status=status, day=day, orders=orders, names=names, totals=totals,
                    refunded=fees.refunded_fen, tz=c.city.tz, error=error, failed=failed,
                    previous=day - timedelta(days=1), following=day + timedelta(days=1))


@console_page(CAPABILITY)
async def fee_orders_page(c: Console) -> Response:
    try:
        day = _day(c)
    except DomainError as exc:
        return c.error(exc)
    return await _page(c, day)


@console_page(CAPABILITY)
async def refund_items(c: Console) -> Response:
    order_id = c.request.path_params["ref"]
    chosen = [k.removeprefix(ITEM) for k in c.form if k.startswith(ITEM)]
    reason = str(c.form.get("reason", "")).strip() or "退药/未检查"
    try:
        day = _day(c)
        async with c.transaction() as s:
            key = await fees.refund_items(s, order_id, chosen, actor=c.actor(), reason=reason, hospital_id=_hospital(c))
    except DomainError as exc:
        if exc.status == 404:
            return c.error(exc)
        return await _page(c, utcnow().astimezone(c.city.tz).date() if exc.code == "invalid_day" else day,
                           status=exc.status if 400 <= exc.status < 500 else 400, error=c.refusal(exc), failed=order_id)
    return c.redirect(f"finance/fees?day={day.isoformat()}", flash=f"已申请退费 {order_id} {key}")


def routes() -> list:
    return [
        Route("/c/{city}/finance/fees", fee_orders_page, methods=["GET"]),
        Route("/c/{city}/finance/fees/{ref}/refund", refund_items, methods=["POST"]),
    ]
