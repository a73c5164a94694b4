"""Hospital information systems (R7.3): each hospital's adapter, last schedule pull, pushes
still owed, health and whether it is degraded; a "sync now" button that asks for a pull
through the outbox (audited); and the reconciliation report of a chosen day, with CSV export.
City administrators see every hospital; a hospital's administrator only its own (another
hospital's answers 404).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from starlette.responses import Response
from starlette.routing import Route

from guahao.core import audit
from guahao.core.errors import DomainError, NotFound
from guahao.core.his.reconcile import reconcile
from guahao.core.his.status import his_status
from guahao.core.his.sync import request_pull
from guahao.core.models import Hospital
from guahao.tenants.context import use_city

from ..kit.pages import Console, console_page

CAPABILITY = "deliveries.manage"  # the people who look after what the platform owes the hospitals' systems


def _own(c: Console) -> int | None:
    return c.principal.hospital_id if c.principal is not None else None


def _day(c: Console) -> date | None:
    try:
        return date.fromisoformat(c.request.query_params.get("date", ""))
    except ValueError:
        return None


async def _hospital(c: Console, hospital_id: int | None) -> Hospital:
    own = _own(c)
    if hospital_id is None or (own is not None and hospital_id != own):
        raise NotFound("hospital", code="hospital_not_found")
    async with c.transaction() as s:
        found = await s.scalar(select(Hospital).where(Hospital.id == hospital_id))
    if found is None:
        raise NotFound("hospital", code="hospital_not_found")
    return found


@console_page(CAPABILITY)
async def his_page(c: Console) -> Response:
    check = c.request.query_params.get("check") == "1"
    with use_city(c.city):
        rows = await his_status(c.rt, hospital_id=_own(c), check=check)
    chosen, day = c.int_field("hospital"), _day(c)
    report, error = None, None
    if chosen is not None and day is not None:
        try:
            hospital = await _hospital(c, chosen)
            with use_city(c.city):
                report = await reconcile(c.rt, hospital.id, day)
        except DomainError as exc:
            if exc.status == 404:
                return c.error(exc)
            error = c.refusal(exc)
    elif c.request.query_params.get("date") is not None and day is None:
        error = c._("Choose a day (YYYY-MM-DD).")
    return c.render("his.html", rows=rows, report=report, chosen=chosen, day=day, error=error, checked=check,
                    tz=c.city.tz)


@console_page(CAPABILITY)
async def his_sync(c: Console) -> Response:
    hospital = await _hospital(c, int(c.request.path_params["id"]))
    async with c.transaction() as s:
        row = await request_pull(s, hospital.id, kind="schedules", trigger="console")
        await s.flush()
        audit.record(s, c.actor(), "his.sync_request", target_type="hospital", target_id=hospital.id,
                     summary=f"请求从 HIS 同步出诊：{hospital.name}", after={"outbox_id": row.id})
    return c.redirect("his", flash=c._("The schedule of %(name)s will be pulled from its HIS in a moment.",
                                       name=hospital.name))


@console_page(CAPABILITY)
async def his_reconcile_csv(c: Console) -> Response:
    day = _day(c)
    hospital = await _hospital(c, c.int_field("hospital"))
    if day is None:
        return c.error(DomainError("invalid_date", "请选择日期（YYYY-MM-DD）。Choose a day (YYYY-MM-DD)."))
    with use_city(c.city):
        report = await reconcile(c.rt, hospital.id, day)
    name = f"his-reconcile-{hospital.code}-{day.isoformat()}.csv"
    return c.finish(Response("\ufeff" + report.csv(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'}))


def routes() -> list:
    return [
        Route("/c/{city}/his", his_page, methods=["GET"]),
        Route("/c/{city}/his/reconcile.csv", his_reconcile_csv, methods=["GET"]),
        Route("/c/{city}/his/{id:int}/sync", his_sync, methods=["POST"]),
    ]
