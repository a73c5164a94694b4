"""Contracts of the current city: set (a new version), read (in force, history) and the
profit an operator declares. Every change is audited in the same transaction.

All functions run inside the caller's ``city_session``; the console and the CLI pass an
:class:`~guahao.core.audit.Actor` for who acts.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import column, func, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.plugin_api import Conflict, ValidationFailed, current_city, utcnow

from ..ledger.periods import PeriodInvalid, parse_month
from .models import Contract, ProfitDeclaration
from .terms import MODEL_LABELS, MODELS, TermsInvalid, parse_terms, terms_json

BUYER_FIELDS = ("name", "tax_id", "address", "email")


async def contract_history(s: AsyncSession) -> list[Contract]:
    """Every version of the current city's contract, oldest first."""
    return list((await s.scalars(select(Contract).order_by(Contract.version))).all())


async def contract_in_force(s: AsyncSession, on: date) -> Contract | None:
    """The version in force on ``on``: the latest version effective on or before that day."""
    stmt = (
        select(Contract).where(Contract.effective_from <= on)
        .order_by(Contract.effective_from.desc(), Contract.version.desc()).limit(1)  # type: ignore[union-attr]
    )
    return (await s.scalars(stmt)).first()


async def versions_for(s: AsyncSession, start: date, end: date) -> list[Contract]:
    """Every version effective before ``end``, in the order they take effect: enough to know
    which one is in force on each day of ``[start, end)`` and on the day before ``start``."""
    stmt = select(Contract).where(Contract.effective_from < end).order_by(Contract.effective_from, Contract.version)
    return list((await s.scalars(stmt)).all())


def _clean_buyer(buyer: dict | None, fallback: dict) -> dict:
    if not buyer:
        return dict(fallback)
    out = {k: str(buyer.get(k) or fallback.get(k) or "").strip()[:200] for k in BUYER_FIELDS}
    return {k: v for k, v in out.items() if v}


# Invoices build on contracts (the package imports this one), so the issued months are read
# through the table itself rather than its model.
_INVOICES = table("licensing_invoices", column("city_id"), column("kind"), column("status"), column("period"),
                  column("period_end"))
_ISSUED = (_INVOICES.c.kind == "invoice", _INVOICES.c.status.in_(("finalized", "paid")))


async def _issued_through(s: AsyncSession) -> date | None:
    """The end (exclusive) of the last month an issued, not voided, invoice covers."""
    value = await s.scalar(select(func.max(_INVOICES.c.period_end)).where(_INVOICES.c.city_id == current_city().id, *_ISSUED))
    return date.fromisoformat(value) if isinstance(value, str) else value


async def _period_issued(s: AsyncSession, period: str) -> bool:
    stmt = select(func.count()).where(_INVOICES.c.city_id == current_city().id, _INVOICES.c.period == period, *_ISSUED)
    return bool(await s.scalar(stmt))


async def set_contract(
    s: AsyncSession,
    actor: audit.Actor,
    *,
    model: str,
    effective_from: date,
    terms: dict,
    buyer: dict | None = None,
    note: str = "",
) -> Contract:
    """Store a new version of the current city's contract (the first one, or an amendment).

    Raises:
        ValidationFailed: ``contract_terms_invalid`` — the terms do not fit the model.
        Conflict: ``contract_date_too_early`` — before the latest version's date;
            ``contract_period_invoiced`` — a finalized invoice already covers that day
            (void it first).
    """
    if model not in MODELS:
        raise ValidationFailed("contract_model_invalid", f"合同模式须为 {' / '.join(MODELS)} / model must be one of these")
    try:
        parsed = parse_terms(model, terms)
    except TermsInvalid as exc:
        raise ValidationFailed("contract_terms_invalid", f"合同条款有误 / invalid terms: {exc}") from None
    history = await contract_history(s)
    latest = history[-1] if history else None
    if latest is not None and effective_from < latest.effective_from:
        raise Conflict(
            "contract_date_too_early",
            f"新版本的生效日期不能早于第 {latest.version} 版（{latest.effective_from}） / "
            f"a new version cannot take effect before version {latest.version} ({latest.effective_from})",
        )
    issued = await _issued_through(s)
    if issued is not None and effective_from < issued:
        raise Conflict(
            "contract_period_invoiced",
            f"{issued} 之前的账期已开具正式账单，合同变更须在此之后生效（或先作废账单） / "
            f"invoices up to {issued} are finalized: the change must take effect on or after it (or void them first)",
        )
    city = current_city()
    fallback = latest.buyer if latest else {"name": city.display_name if city else ""}
    contract = Contract(
        version=(latest.version + 1) if latest else 1,
        model=model,
        effective_from=effective_from,
        terms=terms_json(parsed),
        buyer=_clean_buyer(buyer, fallback),
        note=(note or "").strip()[:500],
        created_by=f"{actor.label} {actor.name}".strip()[:120],
        created_at=utcnow(),
    )
    s.add(contract)
    await s.flush()
    audit.record(
        s, actor, "contract.set" if latest is None else "contract.amend",
        target_type="contract", target_id=contract.version,
        summary=f"{MODEL_LABELS[model][0]} v{contract.version} 自 {effective_from} 起生效",
        before=contract_as_dict(latest) if latest else None, after=contract_as_dict(contract),
    )
    return contract


async def declare_profit(
    s: AsyncSession, actor: audit.Actor, *, period: str, profit_fen: int, note: str = ""
) -> ProfitDeclaration:
    """Declare (or correct) the current city's operating profit of ``period`` (``YYYY-MM``).

    Raises:
        ValidationFailed: ``period_invalid``.
        Conflict: ``profit_period_invoiced`` — an issued invoice covers the month.
    """
    try:
        first = parse_month(period)
    except PeriodInvalid as exc:
        raise ValidationFailed("period_invalid", f"账期格式应为 2026-11 / {exc}") from None
    period = first.strftime("%Y-%m")
    if await _period_issued(s, period):
        raise Conflict("profit_period_invoiced",
                       f"{period} 已开具正式账单，利润不能再改 / {period} is invoiced: its profit cannot change")
    row = (await s.scalars(select(ProfitDeclaration).where(ProfitDeclaration.period == period))).first()
    before = {"profit_fen": row.profit_fen, "note": row.note} if row else None
    if row is None:
        row = ProfitDeclaration(period=period, profit_fen=int(profit_fen))
        s.add(row)
    row.profit_fen = int(profit_fen)
    row.note = (note or "").strip()[:500]
    row.declared_by = f"{actor.label} {actor.name}".strip()[:120]
    row.declared_at = utcnow()
    await s.flush()
    audit.record(s, actor, "contract.profit", target_type="profit", target_id=period,
                 summary=f"{period} 运营利润 {profit_fen} 分", before=before,
                 after={"profit_fen": row.profit_fen, "note": row.note})
    return row


async def declared_profit(s: AsyncSession, period: str) -> ProfitDeclaration | None:
    """The current city's declaration for ``period`` (``YYYY-MM``), if any."""
    return (await s.scalars(select(ProfitDeclaration).where(ProfitDeclaration.period == period))).first()


async def profit_declarations(s: AsyncSession) -> list[ProfitDeclaration]:
    """Every declaration of the current city, newest month first."""
    return list((await s.scalars(select(ProfitDeclaration).order_by(ProfitDeclaration.period.desc()))).all())  # type: ignore[attr-defined]


def contract_as_dict(c: Contract) -> dict:
    """A version as JSON (``guahao contract show --json`` and the console)."""
    return {
        "version": c.version,
        "model": c.model,
        "model_label": MODEL_LABELS[c.model][0],
        "model_label_en": MODEL_LABELS[c.model][1],
        "effective_from": c.effective_from.isoformat(),
        "terms": c.terms,
        "buyer": c.buyer,
        "note": c.note,
        "created_by": c.created_by,
        "created_at": c.created_at.isoformat() if c.created_at else None,
    }


async def contract_summary(s: AsyncSession, on: date) -> dict:
    """The contract in force on ``on`` and its whole history, as JSON."""
    history = await contract_history(s)
    current = await contract_in_force(s, on)
    return {
        "on": on.isoformat(),
        "in_force": contract_as_dict(current) if current else None,
        "scheduled": [contract_as_dict(c) for c in history if c.effective_from > on],
        "history": [contract_as_dict(c) for c in history],
    }
