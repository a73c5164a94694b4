"""Invoices: the run drafts from the ledger, finalization numbers gap-free under a lock and
freezes the invoice in the database, payment, void with a credit note, scoping per city."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from guahao.core.audit import Actor
from guahao.core.errors import Conflict, NotFound, ValidationFailed
from guahao.core.models.audit import AuditEntry
from guahao.licensing.contracts.service import declare_profit, set_contract
from guahao.licensing.invoices.models import Invoice, InvoiceLine
from guahao.licensing.invoices.queries import (
    city_of_invoice,
    get_invoice,
    invoice_as_dict,
    invoice_lines,
    list_all_invoices,
    list_invoices,
)
from guahao.licensing.invoices.run import run_invoices
from guahao.licensing.invoices.states import finalize_invoice, mark_paid, void_invoice
from guahao.licensing.ledger.append import Usage, append
from guahao.licensing.ledger.models import UsageEvent
from guahao.plugin_api import city_session
from tests.factories import make_city

VENDOR = Actor("vendor", 1, name="厂商")
NOV5 = datetime(2026, 11, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _usage(n: int, start: int = 0) -> list[Usage]:
    out = []
    for i in range(start, start + n):
        at = NOV5 + timedelta(hours=i)
        out.append(Usage("booking.confirmed", 1, f"booking.confirmed:B{i}", at, {"channel": "web"}))
        out.append(Usage("fee.paid_fen", 1000, f"fee.paid_fen:B{i}:pay{i}", at, {"provider": "stripe"}))
    return out


async def _revenue_city(rt, city, bookings: int = 5):
    async with city_session(rt, city) as s:
        await set_contract(s, VENDOR, model="revenue_share", effective_from=date(2026, 1, 1),
                           terms={"percent": "10", "per_booking_fen": 100}, buyer={"name": "运营公司", "tax_id": "91X"})
        await append(s, _usage(bookings))


async def _draft(rt, city, period="2026-11") -> int:
    [outcome] = await run_invoices(rt, period, city=city.slug, actor=VENDOR)
    assert outcome.outcome == "drafted", outcome
    return outcome.invoice_id


async def test_the_run_drafts_lines_from_the_ledger_with_their_rows(rt, city):
    await _revenue_city(rt, city)
    invoice_id = await _draft(rt, city)
    async with city_session(rt, city) as s:
        inv = await get_invoice(s, invoice_id)
        lines = await invoice_lines(s, invoice_id)
        hashes = {r.seq: r.hash for r in (await s.scalars(select(UsageEvent))).all()}
        audit = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "invoice.draft"))).all()
    # fees 5 × 1,000 = 5,000 × 10 % = 500; bookings 5 × 100 = 500; VAT 6 % of 1,000 = 60
    assert [(x.code, x.quantity, x.amount_fen) for x in lines] == [("revenue_share.fees", 5000, 500),
                                                                   ("revenue_share.per_booking", 5, 500)]
    assert (inv.status, inv.subtotal_fen, inv.vat_percent, inv.vat_fen, inv.total_fen) == ("draft", 1000, "6", 60, 1060)
    assert inv.buyer == {"name": "运营公司", "tax_id": "91X"} and inv.seller["name"] and inv.number is None
    fees, booked = lines
    # rows alternate booking, fee: bookings are seq 1, 3, 5, 7, 9 and fees 2 … 10
    assert (fees.first_seq, fees.last_seq, fees.ledger_rows) == (2, 10, 5)
    assert (booked.first_seq, booked.last_seq) == (1, 9)
    assert (fees.first_hash, fees.last_hash) == (hashes[2], hashes[10])
    assert (fees.span_start, fees.span_end) == (date(2026, 11, 1), date(2026, 12, 1))
    assert [a.target_id for a in audit] == [str(invoice_id)]


async def test_rerunning_replaces_the_draft_but_never_an_issued_invoice(rt, city):
    await _revenue_city(rt, city)
    first = await _draft(rt, city)
    async with city_session(rt, city) as s:
        await append(s, _usage(2, start=100))
    second = await _draft(rt, city)
    assert second != first
    async with city_session(rt, city) as s:
        assert (await get_invoice(s, first)).status == "discarded"
        assert [i.id for i in await list_invoices(s)] == [second]
        assert (await get_invoice(s, second)).subtotal_fen == 1400  # 7 bookings: 700 + 700
        await finalize_invoice(s, second, VENDOR)
    [outcome] = await run_invoices(rt, "2026-11", city=city.slug)
    assert outcome.outcome == "skipped" and "already finalized" in outcome.reason


async def test_cities_without_a_contract_in_the_month_or_without_declared_profit_are_skipped(rt, city):
    async with city_session(rt, city) as s:
        await set_contract(s, VENDOR, model="profit_share", effective_from=date(2026, 6, 1), terms={"percent": "30"})
    [before] = await run_invoices(rt, "2026-05", city=city.slug)
    assert before.outcome == "skipped" and "no contract in force in 2026-05" in before.reason
    [missing] = await run_invoices(rt, "2026-11", city=city.slug)
    assert missing.outcome == "skipped" and "no operating profit declared" in missing.reason
    async with city_session(rt, city) as s:
        await declare_profit(s, VENDOR, period="2026-11", profit_fen=1_000_000)
    invoice_id = await _draft(rt, city)
    async with city_session(rt, city) as s:
        assert (await get_invoice(s, invoice_id)).subtotal_fen == 300_000


async def test_finalized_numbers_run_on_without_gaps_per_year_and_a_rollback_gives_the_number_back(rt, city):
    others = [await make_city(rt, f"{city.slug}-{i}") for i in range(2)]
    ids = []
    for c in [city, *others]:
        await _revenue_city(rt, c, bookings=1)
        ids.append((c, await _draft(rt, c)))
    (c0, i0), (c1, i1), (c2, i2) = ids
    async with city_session(rt, c0) as s:
        n0 = (await finalize_invoice(s, i0, VENDOR, issued_on=date(2201, 3, 1))).number
    assert n0 == "GH-2201-000001"
    with pytest.raises(RuntimeError):
        async with city_session(rt, c1) as s:
            await finalize_invoice(s, i1, VENDOR, issued_on=date(2201, 3, 2))
            raise RuntimeError("the transaction fails after the number was taken")
    async with city_session(rt, c2) as s:
        assert (await finalize_invoice(s, i2, VENDOR, issued_on=date(2201, 3, 3))).number == "GH-2201-000002"
    async with city_session(rt, c1) as s:
        assert (await get_invoice(s, i1)).status == "draft"
        assert (await finalize_invoice(s, i1, VENDOR, issued_on=date(2202, 1, 2))).number == "GH-2202-000001"
        with pytest.raises(Conflict) as err:
            await finalize_invoice(s, i1, VENDOR)
        assert err.value.code == "invoice_finalized"


async def test_the_database_refuses_to_change_an_issued_invoice(rt, city):
    await _revenue_city(rt, city)
    invoice_id = await _draft(rt, city)
    async with city_session(rt, city) as s:
        await finalize_invoice(s, invoice_id, VENDOR)
    refused = [
        f"UPDATE licensing_invoices SET total_fen = 1 WHERE id = {invoice_id}",
        f"UPDATE licensing_invoices SET number = 'GH-1999-000001' WHERE id = {invoice_id}",
        f"UPDATE licensing_invoices SET status = 'draft' WHERE id = {invoice_id}",
        f"UPDATE licensing_invoices SET paid_reference = 'x' WHERE id = {invoice_id}",  # only on the move to paid
        f"UPDATE licensing_invoices SET buyer = '{{}}' WHERE id = {invoice_id}",
        f"DELETE FROM licensing_invoices WHERE id = {invoice_id}",
        f"UPDATE licensing_invoice_lines SET amount_fen = 0 WHERE invoice_id = {invoice_id}",
        f"DELETE FROM licensing_invoice_lines WHERE invoice_id = {invoice_id}",
        "INSERT INTO licensing_invoice_lines (city_id, invoice_id, position, code, description, description_en, meter, "
        "meter_value, span_start, span_end, contract_version, quantity, unit, rate, amount_fen, ledger_rows, first_hash, "
        f"last_hash) VALUES ({city.id}, {invoice_id}, 9, 'x', 'x', '', '', '', '2026-11-01', '2026-12-01', 1, 1, '', '', "
        "99, 0, '', '')",
    ]
    for stmt in refused:
        with pytest.raises(DBAPIError, match="issued invoice|append-only"):
            async with city_session(rt, city) as s:
                await s.execute(text(stmt))
    async with city_session(rt, city) as s:
        inv = await get_invoice(s, invoice_id)
        assert (inv.status, inv.total_fen, len(await invoice_lines(s, invoice_id))) == ("finalized", 1060, 2)
        await s.execute(text(f"UPDATE licensing_invoices SET stripe_status = 'open' WHERE id = {invoice_id}"))  # allowed


async def test_a_draft_may_not_skip_to_paid_nor_be_finalized_without_a_number(rt, city):
    await _revenue_city(rt, city)
    invoice_id = await _draft(rt, city)
    for stmt in (f"UPDATE licensing_invoices SET status = 'paid' WHERE id = {invoice_id}",
                 f"UPDATE licensing_invoices SET status = 'finalized' WHERE id = {invoice_id}"):
        with pytest.raises(DBAPIError, match="issued invoice"):
            async with city_session(rt, city) as s:
                await s.execute(text(stmt))


async def test_paid_and_voided_with_a_credit_note_then_invoiced_again(rt, city):
    await _revenue_city(rt, city)
    invoice_id = await _draft(rt, city)
    async with city_session(rt, city) as s:
        with pytest.raises(Conflict, match="invoice_draft"):
            await mark_paid(s, invoice_id, VENDOR)
        with pytest.raises(Conflict):
            await void_invoice(s, invoice_id, VENDOR, reason="x")
        await finalize_invoice(s, invoice_id, VENDOR)
        paid = await mark_paid(s, invoice_id, VENDOR, reference="银行转账 20261205")
        assert (paid.status, paid.paid_reference) == ("paid", "银行转账 20261205") and paid.paid_at
        with pytest.raises(Conflict, match="invoice_paid"):
            await mark_paid(s, invoice_id, VENDOR)
        with pytest.raises(ValidationFailed):
            await void_invoice(s, invoice_id, VENDOR, reason="  ")
        voided, credit = await void_invoice(s, invoice_id, VENDOR, reason="合同金额有误")
    year = voided.issued_on.year
    assert voided.status == "voided" and voided.credit_note_id == credit.id and voided.void_reason == "合同金额有误"
    assert credit.kind == "credit_note" and credit.status == "finalized" and credit.credit_for_id == invoice_id
    assert credit.number.startswith(f"GHCN-{year}-")
    assert (credit.subtotal_fen, credit.vat_fen, credit.total_fen) == (-1000, -60, -1060)
    async with city_session(rt, city) as s:
        assert [x.amount_fen for x in await invoice_lines(s, credit.id)] == [-500, -500]
        actions = [e.action for e in (await s.scalars(select(AuditEntry).where(AuditEntry.target_type == "invoice")
                                                      .order_by(AuditEntry.id))).all()]
    assert actions == ["invoice.draft", "invoice.finalize", "invoice.paid", "invoice.void"]
    again = await _draft(rt, city)
    async with city_session(rt, city) as s:
        assert (await get_invoice(s, again)).total_fen == 1060
        assert {i.status for i in await list_invoices(s)} == {"voided", "finalized", "draft"}


async def test_issued_periods_fix_the_contract_and_the_declared_profit(rt, city):
    async with city_session(rt, city) as s:
        await set_contract(s, VENDOR, model="profit_share", effective_from=date(2026, 1, 1), terms={"percent": "30"})
        await declare_profit(s, VENDOR, period="2026-11", profit_fen=1_000)
    invoice_id = await _draft(rt, city)
    async with city_session(rt, city) as s:
        await finalize_invoice(s, invoice_id, VENDOR)
    async with city_session(rt, city) as s:
        with pytest.raises(Conflict) as err:
            await set_contract(s, VENDOR, model="profit_share", effective_from=date(2026, 11, 20), terms={"percent": "20"})
        assert err.value.code == "contract_period_invoiced"
        with pytest.raises(Conflict, match="profit_period_invoiced"):
            await declare_profit(s, VENDOR, period="2026-11", profit_fen=2_000)
        await set_contract(s, VENDOR, model="profit_share", effective_from=date(2026, 12, 1), terms={"percent": "20"})


async def test_a_city_sees_only_its_own_invoices_and_the_vendor_sees_all(rt, city):
    other = await make_city(rt, city.slug + "-x")
    await _revenue_city(rt, city)
    await _revenue_city(rt, other, bookings=2)
    mine, theirs = await _draft(rt, city), await _draft(rt, other)
    async with city_session(rt, city) as s:
        assert [i.id for i in await list_invoices(s)] == [mine]
        with pytest.raises(NotFound):
            await get_invoice(s, theirs)
        assert await invoice_lines(s, theirs) == []
        with pytest.raises(NotFound):
            await finalize_invoice(s, theirs, VENDOR)
    both = {(c.slug, i.id) for c, i in await list_all_invoices(rt, period="2026-11")}
    assert {(city.slug, mine), (other.slug, theirs)} <= both
    assert [(c.slug, i.id) for c, i in await list_all_invoices(rt, city=other.slug)] == [(other.slug, theirs)]
    assert (await city_of_invoice(rt, theirs)).slug == other.slug
    with pytest.raises(NotFound):
        await city_of_invoice(rt, 10**9)


async def test_invoice_json_names_every_lines_ledger_rows(rt, city):
    await _revenue_city(rt, city, bookings=1)
    invoice_id = await _draft(rt, city)
    async with city_session(rt, city) as s:
        data = invoice_as_dict(await get_invoice(s, invoice_id), await invoice_lines(s, invoice_id), city=city.slug)
    assert data["city"] == city.slug and data["status"] == "draft" and data["total_fen"] == 212  # 100 + 100 + 12 VAT
    assert data["lines"][0]["ledger"]["first_seq"] == 2 and len(data["lines"][0]["ledger"]["last_hash"]) == 64


async def test_concurrent_finalizations_share_and_skip_no_number(rt, city, pg_only):
    cities = [city] + [await make_city(rt, f"{city.slug}-c{i}") for i in range(7)]
    drafts = []
    for c in cities:
        await _revenue_city(rt, c, bookings=1)
        drafts.append((c, await _draft(rt, c)))

    async def finalize(c, invoice_id):
        async with city_session(rt, c) as s:
            return (await finalize_invoice(s, invoice_id, VENDOR, issued_on=date(2301, 1, 1))).number

    numbers = await asyncio.gather(*(finalize(c, i) for c, i in drafts))
    assert sorted(numbers) == [f"GH-2301-{n:06d}" for n in range(1, 9)]

    same = await make_city(rt, f"{city.slug}-same")
    await _revenue_city(rt, same, bookings=1)
    invoice_id = await _draft(rt, same)
    results = await asyncio.gather(finalize(same, invoice_id), finalize(same, invoice_id), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "str"]
    async with city_session(rt, same) as s:
        rows = (await s.scalars(select(Invoice).where(Invoice.number.is_not(None)))).all()
        assert [r.number for r in rows] == ["GH-2301-000009"]
        assert len((await s.scalars(select(InvoiceLine))).all()) == 2


async def test_removing_a_city_erases_its_issued_invoices_too(rt):
    from guahao.core.demo.seed import drop_city

    gone = await make_city(rt, f"gone-{datetime.now().strftime('%H%M%S%f')}")
    await _revenue_city(rt, gone)
    invoice_id = await _draft(rt, gone)
    async with city_session(rt, gone) as s:
        await finalize_invoice(s, invoice_id, VENDOR)
        await void_invoice(s, invoice_id, VENDOR, reason="城市撤销")
    assert await drop_city(rt, gone.slug)
    with pytest.raises(NotFound):
        await city_of_invoice(rt, invoice_id)
    kept = await make_city(rt, gone.slug + "-k")  # the guards are back: an issued invoice still cannot go
    await _revenue_city(rt, kept)
    kept_id = await _draft(rt, kept)
    async with city_session(rt, kept) as s:
        await finalize_invoice(s, kept_id, VENDOR)
    with pytest.raises(DBAPIError):
        async with city_session(rt, kept) as s:
            await s.execute(text(f"DELETE FROM licensing_invoice_lines WHERE invoice_id = {kept_id}"))
    with pytest.raises(DBAPIError):
        async with city_session(rt, kept) as s:
            await s.execute(text(f"DELETE FROM licensing_invoices WHERE id = {kept_id}"))
