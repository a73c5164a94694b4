"""Moving an invoice through its states: draft → finalized (numbered) → paid; finalized or
paid → voided, with a credit note that negates it. Each move locks the invoice's row first,
so two people finalizing (or paying, voiding) the same invoice act one after the other and
the second is told what the first did. Every move is audited.

All functions run in the caller's ``city_session``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core import audit
from guahao.plugin_api import Conflict, NotFound, ValidationFailed, current_city, utcnow

from ..contracts.money import yuan
from .models import ISSUED, Invoice, InvoiceLine
from .numbering import take_number

_STATE_ZH = {"draft": "草稿", "finalized": "已开具", "paid": "已付款", "voided": "已作废", "discarded": "已替换"}


async def lock_invoice(s: AsyncSession, invoice_id: int) -> Invoice:
    """The current city's invoice ``invoice_id``, its row locked for this transaction."""
    stmt = select(Invoice).where(Invoice.id == invoice_id).with_for_update().execution_options(populate_existing=True)
    invoice = (await s.scalars(stmt)).first()
    if invoice is None:
        raise NotFound(f"账单 #{invoice_id} / invoice {invoice_id}", code="invoice_not_found")
    return invoice


def _refuse(invoice: Invoice, action_zh: str, action: str) -> Conflict:
    state = invoice.status
    return Conflict(f"invoice_{state}",
                    f"账单 #{invoice.id} {_STATE_ZH.get(state, state)}，不能{action_zh} / "
                    f"invoice {invoice.id} is {state}: it cannot be {action}")


def _today() -> date:
    return utcnow().astimezone(current_city().tz).date()


def _actor_text(actor: audit.Actor) -> str:
    return f"{actor.label} {actor.name}".strip()[:120]


async def finalize_invoice(s: AsyncSession, invoice_id: int, actor: audit.Actor, *, issued_on: date | None = None) -> Invoice:
    """Issue a draft: it gets the next number of its calendar year (the year of ``issued_on``,
    default today in the city) and can no longer change.

    Raises:
        NotFound: ``invoice_not_found``. Conflict: ``invoice_<state>`` — not a draft.
    """
    invoice = await lock_invoice(s, invoice_id)
    if invoice.status != "draft":
        raise _refuse(invoice, "开具", "finalized")
    day = issued_on or _today()
    invoice.number = await take_number(s, invoice.kind, day.year)
    invoice.status, invoice.issued_on, invoice.finalized_at = "finalized", day, utcnow()
    await s.flush()
    audit.record(s, actor, "invoice.finalize", target_type="invoice", target_id=invoice.id,
                 summary=f"{invoice.number} {invoice.period} {yuan(invoice.total_fen)} 元",
                 before={"status": "draft"}, after={"status": "finalized", "number": invoice.number})
    return invoice


async def mark_paid(
    s: AsyncSession, invoice_id: int, actor: audit.Actor, *, reference: str = "", paid_at: datetime | None = None
) -> Invoice:
    """Record that a finalized invoice was paid (``reference``: the bank transfer, Stripe …).

    Raises:
        NotFound, Conflict: ``invoice_<state>`` — not finalized (a draft, already paid, voided).
    """
    invoice = await lock_invoice(s, invoice_id)
    if invoice.status != "finalized" or invoice.kind != "invoice":
        raise _refuse(invoice, "记为已付款", "marked paid")
    invoice.status, invoice.paid_at, invoice.paid_reference = "paid", paid_at or utcnow(), (reference or "").strip()[:120]
    await s.flush()
    audit.record(s, actor, "invoice.paid", target_type="invoice", target_id=invoice.id,
                 summary=f"{invoice.number} 已付款 {yuan(invoice.total_fen)} 元", before={"status": "finalized"},
                 after={"status": "paid", "reference": invoice.paid_reference})
    return invoice


async def void_invoice(s: AsyncSession, invoice_id: int, actor: audit.Actor, *, reason: str) -> tuple[Invoice, Invoice]:
    """Void an issued invoice: a credit note with its own number negates every line and the
    totals; the invoice becomes ``voided`` and its month may be invoiced again.

    Returns ``(voided invoice, credit note)``.

    Raises:
        ValidationFailed: ``void_reason_required``. NotFound. Conflict: ``invoice_<state>``.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("void_reason_required", "作废须写明原因 / a void needs a reason")
    invoice = await lock_invoice(s, invoice_id)
    if invoice.status not in ISSUED or invoice.kind != "invoice":
        raise _refuse(invoice, "作废", "voided")
    day = _today()
    credit = Invoice(
        kind="credit_note", status="draft", period=invoice.period, period_start=invoice.period_start,
        period_end=invoice.period_end, currency=invoice.currency, subtotal_fen=-invoice.subtotal_fen,
        vat_percent=invoice.vat_percent, vat_fen=-invoice.vat_fen, total_fen=-invoice.total_fen,
        seller=dict(invoice.seller), buyer=dict(invoice.buyer), contract_versions=list(invoice.contract_versions),
        notes=[f"冲销 {invoice.number} / credits {invoice.number}: {reason}"[:300]], credit_for_id=invoice.id,
        created_at=utcnow(), created_by=_actor_text(actor),
    )
    s.add(credit)
    await s.flush()
    lines = (await s.scalars(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)
                             .order_by(InvoiceLine.position))).all()
    s.add_all([
        InvoiceLine(**{**{k: getattr(line, k) for k in _COPIED}, "invoice_id": credit.id, "amount_fen": -line.amount_fen})
        for line in lines
    ])
    await s.flush()
    credit.number = await take_number(s, "credit_note", day.year)
    credit.status, credit.issued_on, credit.finalized_at = "finalized", day, utcnow()
    await s.flush()
    before = invoice.status
    invoice.status, invoice.voided_at, invoice.void_reason, invoice.credit_note_id = "voided", utcnow(), reason[:500], credit.id
    await s.flush()
    audit.record(s, actor, "invoice.void", target_type="invoice", target_id=invoice.id, reason=reason,
                 summary=f"{invoice.number} 作废，红字 {credit.number}", before={"status": before},
                 after={"status": "voided", "credit_note": credit.number})
    return invoice, credit


_COPIED = (
    "position", "code", "description", "description_en", "meter", "meter_value", "span_start", "span_end",
    "contract_version", "quantity", "unit", "rate", "ledger_rows", "first_seq", "last_seq", "first_hash", "last_hash",
)
