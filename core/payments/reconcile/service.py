"""Reconciling one provider's statement of one day (R6.4), and what staff do with the result.

:func:`reconcile` downloads the statement (once per merchant account the city's hospitals
use), matches it with the platform's records and stores the run and its mismatches in one
transaction. Re-running a day replaces the run and the day's open mismatches; a mismatch a
person resolved stays resolved and is not raised again. A statement that cannot be had is a
``failed`` run (its error kept for staff) and raises :class:`StatementFailed`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import metrics
from guahao.core.errors import Conflict, DomainError, NotFound
from guahao.core.models import Hospital, PaymentMismatch, ReconciliationRun
from guahao.core.plugins.interfaces import PaymentProvider, StatementLine
from guahao.tenants.clock import utcnow
from guahao.tenants.context import require_city

from .lines import UnreadableLine, to_lines
from .matching import Outcome, match
from .platform import bookings_by_ref, platform_records

log = logging.getLogger("guahao.payments.reconcile")


class StatementFailed(RuntimeError):
    """The provider's statement could not be had or read; the run is recorded ``failed``."""


@dataclass(frozen=True)
class RunReport:
    """What one reconciliation did: the stored run and the open mismatches of the day."""

    run: ReconciliationRun
    mismatches: list[PaymentMismatch]


def supports_statements(provider: PaymentProvider) -> bool:
    """The provider implements ``statement`` (the interface's default does not)."""
    return type(provider).statement is not PaymentProvider.statement


def statement_providers(plugins) -> list[PaymentProvider]:
    """The city's enabled providers that have statements."""
    return [p for p in plugins.payment_providers() if supports_statements(p)]


def _provider(plugins, name: str) -> PaymentProvider:
    provider = plugins.payment_provider(name)
    if provider is None:
        raise NotFound("payment provider", "provider_not_enabled")
    if not supports_statements(provider):
        raise DomainError("statement_unsupported", f"{name} 没有对账单，无法对账。 / {name} has no statements to reconcile.",
                          status=422)
    return provider


async def _accounts(rt, plugins, provider: PaymentProvider) -> list[tuple[dict, dict]]:
    """The distinct ``(settings, secrets)`` the city and its hospitals use with the provider
    (a hospital on its own merchant account has a statement of its own)."""
    async with rt.db.transaction() as s:
        hospital_ids = (await s.scalars(select(Hospital.id).order_by(Hospital.id))).all()
    seen: dict[str, tuple[dict, dict]] = {}
    for hospital_id in [None, *hospital_ids]:
        settings, secrets = plugins.config_of(provider, hospital_id)
        key = json.dumps(settings, sort_keys=True, default=str)
        seen.setdefault(key, (settings, secrets))
    return list(seen.values())


async def fetch_statement(rt, plugins, provider: PaymentProvider, day: date) -> list[StatementLine]:
    """Every line of the provider's statements of ``day`` (one per merchant account, lines
    listed twice counted once); raises :class:`StatementFailed`."""
    lines: dict[tuple, StatementLine] = {}
    try:
        for settings, secrets in await _accounts(rt, plugins, provider):
            with metrics.provider_call("payment", provider.name, "statement"):
                rows = await provider.statement(day, settings, secrets)
            for line in to_lines(rows):
                lines.setdefault((line.kind, line.provider_ref, line.refund_ref, line.our_ref, line.amount_fen), line)
    except UnreadableLine as exc:
        raise StatementFailed(f"unreadable statement line: {exc}") from exc
    except DomainError:
        raise
    except Exception as exc:  # the provider is down or answered nonsense: recorded on the run
        raise StatementFailed(f"{type(exc).__name__}: {exc}") from exc
    return list(lines.values())


async def _run_row(s: AsyncSession, provider: str, day: date) -> ReconciliationRun:
    run = await s.scalar(select(ReconciliationRun).where(ReconciliationRun.provider == provider,
                                                         ReconciliationRun.day == day).with_for_update())
    if run is None:
        run = ReconciliationRun(provider=provider, day=day)
        s.add(run)
    return run


def _fill(run: ReconciliationRun, outcome: Outcome, lines: int, trigger: str, open_count: int) -> None:
    now = utcnow()
    run.trigger, run.finished_at = trigger[:40], now
    run.statement_lines, run.payments, run.refunds = lines, outcome.payments, outcome.refunds
    for name, value in outcome.totals.items():
        setattr(run, name, value)
    run.hospitals = outcome.hospitals
    run.mismatches = open_count
    run.outcome = "mismatches" if open_count else "ok"
    run.error = ""


async def _record_failure(rt, provider: str, day: date, trigger: str, error: str) -> None:
    async with rt.db.transaction() as s:
        run = await _run_row(s, provider, day)
        run.trigger, run.started_at, run.finished_at = trigger[:40], utcnow(), utcnow()
        run.outcome, run.error = "failed", error[:2000]


async def reconcile(rt, provider_name: str, day: date, *, trigger: str = "manual") -> RunReport:
    """Reconcile ``provider_name``'s statement of ``day`` in the current city.

    Raises ``NotFound`` (``provider_not_enabled``), ``DomainError``
    (``statement_unsupported``) or :class:`StatementFailed` (the run is stored ``failed``)."""
    city = require_city()
    plugins = await rt.plugins.for_city(city)
    provider = _provider(plugins, provider_name)
    try:
        lines = await fetch_statement(rt, plugins, provider, day)
    except StatementFailed as exc:
        log.warning("reconciliation of %s %s in %s failed: %s", provider.name, day, city.slug, exc)
        await _record_failure(rt, provider.name, day, trigger, str(exc))
        raise
    refs = {x for line in lines for x in (line.our_ref, line.booking_id) if x}
    try:
        return await _store(rt, provider.name, day, lines, refs, trigger)
    except IntegrityError:  # another run of the same day made its row first: ours waits for it now
        return await _store(rt, provider.name, day, lines, refs, trigger)


async def _store(rt, provider: str, day: date, lines: list[StatementLine], refs: set[str], trigger: str) -> RunReport:
    """Match and store in one transaction; the day's run row is taken first (locked), so two
    runs of one day follow each other."""
    city = require_city()
    async with rt.db.transaction() as s:
        run = await _run_row(s, provider, day)
        run.started_at = utcnow()
        await s.flush()
        of_day, others = await platform_records(s, provider, day, city.tz, also=refs)
        outcome = match(lines, of_day, others, await bookings_by_ref(s, refs))
        resolved = {
            (m.kind, m.line_kind, m.our_ref, m.provider_ref)
            for m in (await s.scalars(select(PaymentMismatch).where(
                PaymentMismatch.provider == provider, PaymentMismatch.day == day,
                PaymentMismatch.status == "resolved"))).all()
        }
        await s.execute(delete(PaymentMismatch).where(
            PaymentMismatch.provider == provider, PaymentMismatch.day == day, PaymentMismatch.status == "open"))
        rows = [
            PaymentMismatch(provider=provider, day=day, kind=f.kind, line_kind=f.line_kind, booking_id=f.booking_id,
                            hospital_id=f.hospital_id, our_ref=f.our_ref[:120], provider_ref=f.provider_ref[:120],
                            provider_amount_fen=f.provider_amount_fen, platform_amount_fen=f.platform_amount_fen,
                            provider_status=f.provider_status[:30], platform_status=f.platform_status[:30])
            for f in outcome.found if f.key not in resolved
        ]
        s.add_all(rows)
        _fill(run, outcome, len(lines), trigger, len(rows))
        await s.flush()
    return RunReport(run, rows)


# --- what staff do with a mismatch --------------------------------------------------------------


async def mismatch_in_scope(s: AsyncSession, mismatch_id: int, hospital_id: int | None) -> PaymentMismatch:
    """The mismatch, if the principal's hospital (``None``: the whole city) may see it."""
    row = await s.get(PaymentMismatch, mismatch_id)
    if row is None or (hospital_id is not None and row.hospital_id != hospital_id):
        exc = NotFound("mismatch", "mismatch_not_found")
        exc.message = "未找到该对账差异。 / No such mismatch in your scope."
        raise exc
    return row


def _snapshot(row: PaymentMismatch) -> dict[str, Any]:
    return {"status": row.status, "note": row.note, "kind": row.kind, "booking_id": row.booking_id}


async def resolve(s: AsyncSession, actor, mismatch_id: int, note: str, *, hospital_id: int | None = None) -> PaymentMismatch:
    """Mark a mismatch resolved with the person's note (audited ``payment.mismatch_resolve``)."""
    from guahao.core import audit
    from guahao.core.errors import ValidationFailed

    note = (note or "").strip()
    if not 2 <= len(note) <= 500:
        raise ValidationFailed("note_required", "请写明处理结果（2–500 个字）。 / Say how it was settled (2–500 characters).")
    row = await mismatch_in_scope(s, mismatch_id, hospital_id)
    if row.status == "resolved":
        raise Conflict("mismatch_resolved", "该差异已处理。 / This mismatch is resolved already.")
    before = _snapshot(row)
    row.status, row.note, row.resolved_at, row.resolved_by = "resolved", note, utcnow(), actor.label[:80]
    audit.record(s, actor, "payment.mismatch_resolve", target_type="payment_mismatch", target_id=row.id,
                 summary=f"{row.provider} {row.day} {row.kind} {row.booking_id or row.our_ref} resolved",
                 reason=note, before=before, after=_snapshot(row))
    return row
