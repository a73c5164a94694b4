"""Printable invoices: the HTML names the parties, every line's meter and ledger rows, VAT and
totals (escaped), a credit note names what it credits; the PDF is a PDF set in a CJK font."""

from datetime import UTC, date, datetime

from guahao.core.audit import Actor
from guahao.licensing.contracts.service import set_contract
from guahao.licensing.invoices.documents import invoice_html, invoice_pdf, rate_text
from guahao.licensing.invoices.models import InvoiceLine
from guahao.licensing.invoices.queries import invoice_lines
from guahao.licensing.invoices.run import run_invoices
from guahao.licensing.invoices.states import finalize_invoice, void_invoice
from guahao.licensing.ledger.append import Usage, append
from guahao.plugin_api import city_session

VENDOR = Actor("vendor", 1, name="厂商")


async def _invoice(rt, city) -> int:
    async with city_session(rt, city) as s:
        await set_contract(s, VENDOR, model="revenue_share", effective_from=date(2026, 1, 1),
                           terms={"percent": "12.5", "per_booking_fen": 30},
                           buyer={"name": "<script>alert(1)</script>运营公司", "tax_id": "91110000X"})
        await append(s, [Usage("fee.paid_fen", 1_234, "fee.paid_fen:1:pi_1", datetime(2026, 11, 3, 3, tzinfo=UTC)),
                         Usage("booking.confirmed", 1, "booking.confirmed:1", datetime(2026, 11, 3, 3, tzinfo=UTC))])
    [outcome] = await run_invoices(rt, "2026-11", city=city.slug)
    return outcome.invoice_id


async def test_html_shows_parties_lines_ledger_rows_vat_and_totals(rt, city):
    invoice_id = await _invoice(rt, city)
    async with city_session(rt, city) as s:
        html = await invoice_html(s, invoice_id)
        lines = await invoice_lines(s, invoice_id)
    # 12.5 % of 1,234 = 154.25 → 154; 1 × 30; subtotal 184; VAT 11.04 → 11; total 195
    assert "草稿 DRAFT" in html and "销售方 Seller" in html and "购买方 Buyer" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;运营公司" in html and "<script>alert" not in html
    assert "91110000X" in html and city.name in html
    assert "挂号费分成 12.5%" in html and "fee.paid_fen" in html and lines[0].first_hash in html
    assert "1.54" in html and "1.84" in html and "0.11" in html and "1.95" in html
    assert "增值税 VAT 6%" in html and "2026-11-01" in html and "2026-11-30" in html


async def test_credit_note_names_the_invoice_it_credits_and_pdf_is_set_in_a_cjk_font(rt, city):
    invoice_id = await _invoice(rt, city)
    async with city_session(rt, city) as s:
        inv = await finalize_invoice(s, invoice_id, VENDOR)
        _, credit = await void_invoice(s, invoice_id, VENDOR, reason="重新计算")
        voided_html = await invoice_html(s, invoice_id)
        credit_html = await invoice_html(s, credit.id)
        pdf = await invoice_pdf(s, credit.id)
    assert "已作废 VOID" in voided_html and "重新计算" in voided_html and inv.number in voided_html
    assert "红字账单" in credit_html and credit.number in credit_html
    assert f"冲销账单 Credits invoice: <strong>{inv.number}" in credit_html
    assert "-1.95" in credit_html
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF") and b"STSong-Light" in pdf


def test_rates_read_as_money():
    def line(code, rate):
        return InvoiceLine(code=code, rate=rate, description="", span_start=date(2026, 1, 1), span_end=date(2026, 2, 1),
                           position=1, invoice_id=1, amount_fen=0)

    assert [rate_text(line("rental.licence", "12000000/年")), rate_text(line("revenue_share.tier", "50")),
            rate_text(line("minimum_topup", "2500000")), rate_text(line("revenue_share.fees", "8%"))] == [
        "120,000.00 元/年", "0.50 元", "25,000.00 元/月", "8%"]
