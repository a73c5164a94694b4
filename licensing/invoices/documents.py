"""Printable invoices: HTML (a jinja2 template) and PDF (reportlab, Chinese set in the
built-in CID font STSong-Light, so no font file is needed). Both show the seller (the
vendor), the buyer (the city's operator), every line with the meter, days and ledger rows it
came from, VAT and totals; a draft or voided invoice says so across its head.
"""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from xml.sax.saxutils import escape

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.plugin_api import current_city

from ..contracts.money import yuan
from .models import Invoice, InvoiceLine
from .queries import get_invoice, invoice_lines

_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"]))
FONT = "STSong-Light"
_STATE = {"draft": "草稿 DRAFT", "voided": "已作废 VOID", "discarded": "已替换 REPLACED"}


def rate_text(line: InvoiceLine) -> str:
    """A line's rate for people: ``8%``, ``0.50 元``, ``120,000.00 元/年``."""
    rate = line.rate or ""
    if not rate or rate.endswith("%"):
        return rate
    if rate.endswith("/年"):
        return f"{yuan(int(rate[:-2]))} 元/年"
    if line.code == "minimum_topup":
        return f"{yuan(int(rate))} 元/月"
    return f"{yuan(int(rate))} 元" if rate.lstrip("-").isdigit() else rate


def document_context(invoice: Invoice, lines: list[InvoiceLine], *, city_name: str, credit_for: str = "") -> dict:
    """What both documents print (pure: the invoice, its lines, the city's name)."""
    credit = invoice.kind == "credit_note"
    rows = []
    for line in lines:
        money_qty = line.unit == "分"
        rows.append({
            "position": line.position, "description": line.description, "description_en": line.description_en,
            "meter": line.meter, "meter_value": line.meter_value, "ledger_rows": line.ledger_rows,
            "first_seq": line.first_seq, "last_seq": line.last_seq, "first_hash": line.first_hash,
            "last_hash": line.last_hash, "span_start": line.span_start,
            "span_last": line.span_end - timedelta(days=1), "contract_version": line.contract_version,
            "quantity_text": yuan(line.quantity) if money_qty else f"{line.quantity:,}",
            "unit": "元" if money_qty else line.unit, "rate_text": rate_text(line), "amount_text": yuan(line.amount_fen),
        })
    return {
        "inv": invoice, "lines": rows, "city_name": city_name, "credit_for": credit_for,
        "heading": "红字账单（冲销）" if credit else "平台服务费账单",
        "heading_en": "Credit note" if credit else "Invoice for platform services",
        "title": f"{invoice.number or f'draft-{invoice.id}'} {city_name} {invoice.period}",
        "state": _STATE.get(invoice.status, ""),
        "period_last": invoice.period_end - timedelta(days=1),
        "subtotal": yuan(invoice.subtotal_fen), "vat": yuan(invoice.vat_fen), "total": yuan(invoice.total_fen),
        "paid_on": invoice.paid_at.date().isoformat() if invoice.paid_at else "",
    }


def render_html(ctx: dict) -> str:
    return _ENV.get_template("invoice.html").render(**ctx)


def _short(h: str) -> str:
    return f"{h[:12]}…{h[-6:]}" if len(h) > 20 else h


def render_pdf(ctx: dict) -> bytes:
    """The invoice as an A4 PDF."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    inv = ctx["inv"]
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=7, leading=9, textColor=colors.HexColor("#555555"))
    head = ParagraphStyle("head", parent=body, fontSize=16, leading=20)
    right = ParagraphStyle("right", parent=body, alignment=2)

    def p(text: str, style=body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
                            bottomMargin=15 * mm, title=ctx["title"], author=inv.seller.get("name", ""),
                            subject=f"{inv.period} {ctx['city_name']}", invariant=1)
    story: list = [p(f"{ctx['heading']}  {ctx['heading_en']}  {ctx['state']}", head), Spacer(1, 4 * mm)]
    number = inv.number or f"（草稿 draft #{inv.id}）"
    story.append(p(f"编号 No. {number}　账期 Period {inv.period}（{inv.period_start} – {ctx['period_last']}）"
                   f"　开具日期 Issued {inv.issued_on or '—'}　币种 {inv.currency}"))
    if ctx["credit_for"]:
        story.append(p(f"冲销账单 Credits invoice {ctx['credit_for']}"))
    parties = []
    for label, who in (("销售方 Seller", inv.seller), ("购买方 Buyer", {**inv.buyer, "city": ctx["city_name"]})):
        lines = [f"{label}", who.get("name", "")] + ([f"城市平台 City platform {who['city']}"] if who.get("city") else [])
        lines += [f"{k} {who[f]}" for k, f in (("纳税人识别号 Tax ID", "tax_id"), ("地址", "address"),
                                                ("开户行及账号", "bank_account"), ("", "email"), ("", "phone")) if who.get(f)]
        parties.append([p(x) for x in lines])
    story += [Spacer(1, 3 * mm), Table([parties], colWidths=[90 * mm, 90 * mm],
                                       style=[("BOX", (0, 0), (0, 0), 0.5, colors.grey),
                                              ("BOX", (1, 0), (1, 0), 0.5, colors.grey),
                                              ("VALIGN", (0, 0), (-1, -1), "TOP")]), Spacer(1, 3 * mm)]
    story.append(p(f"合同版本 Contract version(s) {', '.join(map(str, inv.contract_versions))} · 价格不含增值税 "
                   "Prices are net of VAT", small))
    rows = [[p("#"), p("项目 Item"), p("期间 Days"), p("数量 Qty", right), p("单价 Rate", right), p("金额 元", right)]]
    for line in ctx["lines"]:
        item = [p(line["description"]), p(line["description_en"], small)]
        if line["meter"]:
            refs = (f"{line['meter']} {line['meter_value']} · rows {line['first_seq']}–{line['last_seq']} "
                    f"({line['ledger_rows']}) {_short(line['first_hash'])} … {_short(line['last_hash'])}"
                    if line["ledger_rows"] else f"{line['meter']} · 无用量 no usage")
            item.append(p(refs, small))
        rows.append([p(line["position"]), item, p(f"{line['span_start']} – {line['span_last']} v{line['contract_version']}",
                                                  small),
                     p(f"{line['quantity_text']} {line['unit']}", right), p(line["rate_text"], right),
                     p(line["amount_text"], right)])
    for label, value in (("小计 Subtotal", ctx["subtotal"]), (f"增值税 VAT {inv.vat_percent}%", ctx["vat"]),
                         (f"合计 Total {inv.currency}", ctx["total"])):
        rows.append(["", p(label), "", "", "", p(value, right)])
    table = Table(rows, colWidths=[8 * mm, 72 * mm, 28 * mm, 24 * mm, 26 * mm, 22 * mm], repeatRows=1)
    table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -4), 0.25, colors.lightgrey),
                               ("LINEABOVE", (0, -3), (-1, -3), 0.75, colors.black),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(table)
    for note in inv.notes or []:
        story.append(p(note, small))
    if inv.status == "voided":
        story.append(p(f"已作废 Voided: {inv.void_reason}"))
    story.append(Spacer(1, 4 * mm))
    story.append(p("每一行的金额按四舍五入（半数进位）取整到分；台账行可用 guahao usage export 核对。"
                   "Each line is rounded half up to the fen; ledger rows can be checked with guahao usage export.", small))
    doc.build(story)
    return buf.getvalue()


async def _context(s: AsyncSession, invoice_id: int) -> dict:
    invoice = await get_invoice(s, invoice_id)
    lines = await invoice_lines(s, invoice_id)
    credit_for = ""
    if invoice.credit_for_id:
        credit_for = await s.scalar(select(Invoice.number).where(Invoice.id == invoice.credit_for_id)) or ""
    city = current_city()
    return document_context(invoice, lines, city_name=city.name if city else "", credit_for=credit_for)


async def invoice_html(s: AsyncSession, invoice_id: int) -> str:
    """The current city's invoice ``invoice_id`` as a printable HTML page."""
    return render_html(await _context(s, invoice_id))


async def invoice_pdf(s: AsyncSession, invoice_id: int) -> bytes:
    """The current city's invoice ``invoice_id`` as a PDF."""
    return render_pdf(await _context(s, invoice_id))
