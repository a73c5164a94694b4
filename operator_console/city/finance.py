"""Finance (R6.4): a day's payment reconciliation — each provider's totals on the provider's
side and the platform's, the mismatches with both sides' values, a one-click re-query of a
booking's payment at its provider, resolving with a note (both audited), running the day again
and CSV/XLSX export. A hospital's administrator sees its own hospital's totals and mismatches
(one of another hospital answers 404) and cannot run the city's reconciliation."""

from __future__ import annotations

from datetime import date, timedelta

from starlette.responses import Response
from starlette.routing import Route

from guahao.core.audit import record
from guahao.core.errors import DomainError, Forbidden, ValidationFailed
from guahao.core.payments.reconcile import StatementFailed, reconcile, resolve, statement_providers
from guahao.core.payments.reconcile import finance as service
from guahao.core.payments.reconcile.requery import requery
from guahao.tenants.clock import utcnow

from ..kit.files import content_disposition
from ..kit.pages import Console, console_page

CAPABILITY = "deliveries.manage"  # city and hospital administrators: what the platform owes and is owed
FORMATS = {"csv": ("text/csv; charset=utf-8", service.to_csv),
           "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", service.to_xlsx)}
KINDS = {
    "missing_on_platform": "Missing on the platform",
    "missing_at_provider": "Missing at the provider",
    "amount_differs": "Amount differs",
    "status_differs": "Status differs",
}
OUTCOMES = {"ok": "Matched", "mismatches": "Mismatches", "failed": "Failed", "running": "Running"}


def _hospital(c: Console) -> int | None:
    """The hospital a hospital-bound principal is limited to (``None``: the whole city)."""
    return c.principal.hospital_id if c.principal is not None else None


def _day(c: Console) -> date:
    return day_param(c, utcnow().astimezone(c.city.tz).date() - timedelta(days=1))


def day_param(c: Console, default: date) -> date:
    """The ``day`` a page was asked for (form or query, ``2026-03-02``), else ``default``."""
    text = str(c.form.get("day", c.request.query_params.get("day", ""))).strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("invalid_day", "日期格式应为 2026-03-02。 / The day reads like 2026-03-02.",
                               details={"day": text}) from None


async def _page(c: Console, day: date, *, status: int = 200, error: str | None = None,
                failed_id: int | None = None) -> Response:
    async with c.transaction() as s:
        runs = await service.day_runs(s, day, _hospital(c))
        rows = await service.day_mismatches(s, day, hospital_id=_hospital(c))
    return c.render("finance.html", status=status, day=day, runs=runs, rows=rows, kinds=KINDS, outcomes=OUTCOMES,
                    previous=day - timedelta(days=1), following=day + timedelta(days=1), tz=c.city.tz,
                    city_scope=_hospital(c) is None, error=error, failed_id=failed_id,
                    open_count=sum(1 for m in rows if m.status == "open"))


@console_page(CAPABILITY)
async def finance_page(c: Console) -> Response:
    try:
        day = _day(c)
    except DomainError as exc:
        return c.error(exc)
    return await _page(c, day)


@console_page(CAPABILITY)
async def finance_export(c: Console) -> Response:
    try:
        day = _day(c)
    except DomainError as exc:
        return c.error(exc)
    fmt = c.request.query_params.get("format", "csv")
    fmt = fmt if fmt in FORMATS else "csv"
    media, write = FORMATS[fmt]
    async with c.transaction() as s:
        rows = await service.day_mismatches(s, day, hospital_id=_hospital(c))
        record(s, c.actor(), "payment.reconciliation_export", target_type="reconciliation", target_id=day.isoformat(),
               summary=f"导出对账差异 {day}（{fmt}，{len(rows)} 条）")
    names = (f"对账差异_{c.city.slug}_{day}.{fmt}", f"reconciliation_{c.city.slug}_{day}.{fmt}")
    return c.finish(Response(write(rows), media_type=media,
                             headers={"Content-Disposition": content_disposition(*names)}))


async def _act(c: Console, action, flash) -> Response:
    mismatch_id = int(c.request.path_params["id"])
    try:
        day = _day(c)
        said = await action(mismatch_id)
    except DomainError as exc:
        if exc.status == 404:
            return c.error(exc)
        return await _page(c, _safe_day(c), status=exc.status if 400 <= exc.status < 500 else 400,
                           error=c.refusal(exc), failed_id=mismatch_id)
    return c.redirect(f"finance?day={day.isoformat()}", flash=flash(said))


def _safe_day(c: Console) -> date:
    try:
        return _day(c)
    except DomainError:
        return utcnow().astimezone(c.city.tz).date() - timedelta(days=1)


@console_page(CAPABILITY)
async def mismatch_requery(c: Console) -> Response:
    async def act(mismatch_id: int):
        return await requery(c.rt, c.actor(), mismatch_id, hospital_id=_hospital(c))

    def flash(answer) -> str:
        if answer.resolved:
            return c._("The provider confirmed the payment; it is recorded and the mismatch is resolved.")
        return c._("The provider says: %(status)s, %(amount)s fen.", status=answer.result.status,
                   amount=answer.result.amount_fen)

    return await _act(c, act, flash)


@console_page(CAPABILITY)
async def mismatch_resolve(c: Console) -> Response:
    async def act(mismatch_id: int):
        async with c.transaction() as s:
            return await resolve(s, c.actor(), mismatch_id, c.form.get("note", ""), hospital_id=_hospital(c))

    return await _act(c, act, lambda _: c._("The mismatch is resolved; the audit log keeps the note."))


@console_page(CAPABILITY)
async def finance_run(c: Console) -> Response:
    """Reconcile the day again with every provider that has statements (the city's people only)."""
    if _hospital(c) is not None:
        return c.error(Forbidden("forbidden", "只有城市管理员可以重新对账。 / "
                                              "Only the city's administrators run reconciliation."))
    try:
        day = _day(c)
    except DomainError as exc:
        return c.error(exc)
    providers = statement_providers(await c.rt.plugins.for_city(c.city))
    failed = []
    for provider in providers:
        try:
            await reconcile(c.rt, provider.name, day, trigger=f"console:{c.principal.id}")
        except (StatementFailed, DomainError) as exc:
            failed.append(f"{provider.name}: {exc}")
    async with c.transaction() as s:
        record(s, c.actor(), "payment.reconcile", target_type="reconciliation", target_id=day.isoformat(),
               summary=f"重新对账 {day}：{', '.join(p.name for p in providers) or '无'}" + (
                   f"；失败 {'; '.join(failed)}"[:300] if failed else ""))
    if failed:
        return c.redirect(f"finance?day={day.isoformat()}",
                          flash=c._("Some statements could not be had: %(list)s", list="; ".join(failed)[:300]))
    return c.redirect(f"finance?day={day.isoformat()}", flash=c._("The day is reconciled again."))


def routes() -> list:
    return [
        Route("/c/{city}/finance", finance_page, methods=["GET"]),
        Route("/c/{city}/finance/export", finance_export, methods=["GET"]),
        Route("/c/{city}/finance/run", finance_run, methods=["POST"]),
        Route("/c/{city}/finance/mismatches/{id:int}/requery", mismatch_requery, methods=["POST"]),
        Route("/c/{city}/finance/mismatches/{id:int}/resolve", mismatch_resolve, methods=["POST"]),
    ]
