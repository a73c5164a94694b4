"""Deliveries (R15.4): the HIS pushes, refunds, messages and events the city still owes, the
ones that keep failing and the ones that gave up — each with its last error, retried or
abandoned here (audited). A hospital's administrator sees the rows of its own bookings; a row
of another hospital answers 404.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.backoffice import deliveries as service
from guahao.core.errors import DomainError

from ..kit.pages import Console, console_page

TOPICS = {
    "notify": "Message to a patient",
    "his.push": "Push to the hospital's HIS",
    "payment.refund": "Refund",
    "payment.void": "Cancel an unpaid payment",
    "payment.reconcile": "Payment reconciliation of a day",
    "booking.event": "Booking event (plugins, usage)",
    "member.event": "Member event (plugins, usage)",
    "notification.sent": "Message sent (usage)",
    "usage.reported": "Usage report",
    "booking.hold_expiry": "End of an unpaid hold",
    "booking.offer_expiry": "End of a waitlist offer",
}
STATES = {
    "waiting": "Waiting",
    "retrying": "Retrying",
    "failing": "Failing",
    "failed": "Gave up",
    "abandoned": "Abandoned",
    "done": "Done",
}
VIEWS = {"problems": "Failing and failed", "open": "Everything still to run", "closed": "Gave up or abandoned"}


def _hospital(c: Console) -> int | None:
    """The hospital a hospital-bound principal is limited to (``None``: the whole city)."""
    return c.principal.hospital_id if c.principal is not None else None


async def _page(c: Console, *, status: int = 200, error: str | None = None, failed_id: int | None = None) -> Response:
    view = c.request.query_params.get("view", "problems")
    view = view if view in VIEWS else "problems"
    async with c.transaction() as s:
        rows = await service.list_deliveries(s, view=view, hospital_id=_hospital(c))
        total = await service.summary(s, hospital_id=_hospital(c))
    return c.render("deliveries.html", status=status, rows=rows, total=total, view=view, views=VIEWS, topics=TOPICS,
                    states=STATES, tz=c.city.tz, error=error, failed_id=failed_id)


@console_page("deliveries.manage")
async def delivery_list(c: Console) -> Response:
    return await _page(c)


async def _act(c: Console, action, flash: str) -> Response:
    outbox_id = int(c.request.path_params["id"])
    try:
        async with c.transaction() as s:
            await action(s, outbox_id)
    except DomainError as exc:
        if exc.status == 404:
            return c.error(exc)
        return await _page(c, status=exc.status, error=c.refusal(exc), failed_id=outbox_id)
    view = c.form.get("view", "problems")
    return c.redirect(f"deliveries?view={view if view in VIEWS else 'problems'}", flash=flash)


@console_page("deliveries.manage")
async def delivery_retry(c: Console) -> Response:
    return await _act(c, lambda s, i: service.retry(s, c.actor(), i, hospital_id=_hospital(c)),
                      c._("The delivery will run again in a moment."))


@console_page("deliveries.manage")
async def delivery_abandon(c: Console) -> Response:
    reason = c.form.get("reason", "")
    return await _act(c, lambda s, i: service.abandon(s, c.actor(), i, reason, hospital_id=_hospital(c)),
                      c._("The delivery is abandoned; the audit log keeps the reason."))


@console_page("deliveries.manage")
async def delivery_retry_failed(c: Console) -> Response:
    async with c.transaction() as s:
        ids = await service.retry_all_failed(s, c.actor(), hospital_id=_hospital(c))
    return c.redirect("deliveries", flash=c._("%(n)s deliveries will run again in a moment.", n=len(ids)))


def routes() -> list:
    return [
        Route("/c/{city}/deliveries", delivery_list, methods=["GET"]),
        Route("/c/{city}/deliveries/retry-failed", delivery_retry_failed, methods=["POST"]),
        Route("/c/{city}/deliveries/{id:int}/retry", delivery_retry, methods=["POST"]),
        Route("/c/{city}/deliveries/{id:int}/abandon", delivery_abandon, methods=["POST"]),
    ]
