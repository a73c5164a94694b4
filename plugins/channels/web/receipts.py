"""The member's receipts on the patient site: a list of every payment and refund (bookings'
registration fees and in-clinic fee orders), each as a printable page and a PDF."""

from __future__ import annotations

from starlette.responses import HTMLResponse, Response

from guahao.core.payments import receipts

from .site import Page


async def index(p: Page) -> Response:
    found = await receipts.member_receipts(p.rt, member_id=p.member.id)
    return p.render("receipts.html", receipts=found, tz=p.city.tz)


async def one(p: Page) -> Response:
    """One receipt: the printable page, or the PDF when the number ends in ``.pdf``."""
    number = p.request.path_params["number"]
    pdf = number.endswith(".pdf")
    receipt = await receipts.receipt_by_number(p.rt, member_id=p.member.id, number=number.removesuffix(".pdf"))
    if pdf:
        body = receipts.render_receipt_pdf(receipt, city_name=p.city.name, tz=p.city.tz)
        return p._finish(Response(body, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="receipt-{receipt.number}.pdf"', "Cache-Control": "no-store"}))
    html = receipts.render_receipt(receipt, city_name=p.city.name, tz=p.city.tz)
    return p._finish(HTMLResponse(html, headers={"Cache-Control": "no-store"}))
