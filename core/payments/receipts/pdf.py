"""A receipt as an A5 PDF (reportlab; Chinese set in the standard CID font STSong-Light, which
every PDF reader has, so no font file is embedded or shipped)."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from .service import Receipt

FONT = "STSong-Light"


def _yuan(fen: int) -> str:
    return f"¥{int(fen) // 100}.{int(fen) % 100:02d}"


def render_receipt_pdf(receipt: Receipt, *, city_name: str, tz) -> bytes:
    """The same facts as the printable page, on one A5 page."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A5
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=7, leading=9, textColor=colors.HexColor("#555555"))
    head = ParagraphStyle("head", parent=body, fontSize=14, leading=18)

    def p(text: object, style=body) -> Paragraph:
        return Paragraph(escape(str(text)), style)

    r = receipt
    if r.kind == "refund":
        title, title_en = "退款凭证", "Refund receipt"
    elif r.subject == "fees":
        title, title_en = "诊间缴费电子收据", "Clinic fee receipt"
    else:
        title, title_en = "挂号费电子收据", "Registration fee receipt"
    rows = [("收据编号 Receipt no.", r.number),
            (("退款金额" if r.kind == "refund" else "支付金额") + " Amount", _yuan(r.amount_fen)),
            ("状态 Status", r.status_text),
            ("时间 Time", r.at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")),
            ("支付方式 Paid with", r.provider_name),
            ("交易单号 Reference", r.reference or "—"),
            (("缴费订单号 Fee order" if r.subject == "fees" else "预约号 Booking"), r.booking_id),
            ("就诊人 Patient", r.patient_name),
            ("医院 Hospital", " · ".join(x for x in (r.hospital_name, r.department_name, r.doctor_name) if x))]
    if r.subject != "fees":
        rows.append(("就诊时间 Visit", f"{r.visit_date.isoformat()} {r.visit_time}"))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A5, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                            bottomMargin=12 * mm, title=f"{title} {r.number}", author=f"{city_name}预约挂号平台",
                            invariant=1)
    story: list = [p(f"{city_name}预约挂号平台 · {title}", head), p(title_en, small), Spacer(1, 4 * mm)]
    facts = Table([[p(k), p(v)] for k, v in rows], colWidths=[42 * mm, 80 * mm])
    facts.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(facts)
    if r.items:
        lines = [[p("费用项目 Item"), p("数量 Qty"), p("金额 Amount")]]
        lines += [[p(i.get("name", "")), p(i.get("quantity", "")), p(_yuan(i.get("amount_fen", 0)))] for i in r.items]
        table = Table(lines, colWidths=[72 * mm, 20 * mm, 30 * mm], repeatRows=1)
        table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey)]))
        story += [Spacer(1, 4 * mm), table]
    story += [Spacer(1, 4 * mm), p("本收据为平台电子凭证，医疗费用发票以医院开具为准。"
                                   "This is the platform's electronic receipt; the hospital issues the medical invoice.", small)]
    doc.build(story)
    return buf.getvalue()
