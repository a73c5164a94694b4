"""In-clinic fee payment (诊间支付) on the patient site: the member sees what each visited
hospital says they owe (drugs, exams), ticks what to pay, pays with the city's online provider
(a QR code to scan, the provider's page, or WeChat's own sheet) and comes back to the order's
page, which shows whether the hospital has taken the payment. Paid orders stay listed with
their receipt."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from guahao.core.errors import DomainError
from guahao.core.payments import fees

from . import paying
from .site import Page

ITEM = "item:"  # a ticked fee item's form field: ``item:<HIS item id>``


async def overview(p: Page, *, error: str | None = None, code: str | None = None, status: int = 200) -> Response:
    """Outstanding items per hospital, and the orders already paid."""
    owed = await fees.outstanding(p.rt, member_id=p.member.id)
    orders = await fees.member_orders(p.rt, member_id=p.member.id)
    return p.render("fees.html", status=status, owed=owed, orders=orders, error=error, code=code,
                    done=p.request.query_params.get("done"))


async def choose(p: Page) -> Response:
    """The member ticked items of one hospital: an order for them, then its payment page."""
    try:
        hospital_id = int(p.form.get("hospital_id", ""))
    except ValueError:
        hospital_id = 0
    chosen = [k.removeprefix(ITEM) for k in p.form if k.startswith(ITEM)]
    try:
        order = await fees.create_order(p.rt, member_id=p.member.id, hospital_id=hospital_id, item_ids=chosen)
    except DomainError as exc:
        return await overview(p, error=p.refusal(exc), code=exc.code, status=exc.status)
    return p.redirect(f"fees/{order.id}/pay")


async def pay(p: Page) -> Response:
    """An order's payment page; the button opens the provider, whose page comes back to :func:`paid`."""
    ref = p.request.path_params["ref"]
    order = await fees.member_order(p.rt, member_id=p.member.id, order_id=ref)
    if order.status != "pending":
        return p.redirect(f"fees/{ref}/paid")
    error = code = None
    if p.request.method == "POST":
        back = paying.with_hints(str(p.request.base_url).rstrip("/") + p.url(f"fees/{ref}/paid"), paying.client_hints(p))
        try:
            intent = await fees.start_fee_payment(p.rt, member_id=p.member.id, order_id=ref, return_url=back)
        except DomainError as exc:
            error, code = p.refusal(exc), exc.code
        else:
            scan = intent.data.get("qr_url")
            if scan:
                return p.render("fee_pay.html", order=order, state="qr", qr=paying.qr_svg(str(scan)), error=None,
                                code=None, provider=intent.provider)
            if intent.redirect_url:
                return p._finish(RedirectResponse(intent.redirect_url, status_code=303))
            if intent.data.get("jsapi"):
                return p.render("fee_pay.html", order=order, state="jsapi", jsapi=intent.data["jsapi"], error=None,
                                code=None)
            return p.redirect(f"fees/{ref}/paid")
    return p.render("fee_pay.html", status=409 if error else 200, order=order, state="due", error=error, code=code)


async def paid(p: Page) -> Response:
    """Back from the provider (or the QR page's poll): the order's state, asking the provider
    once more while its callback has not come."""
    ref = p.request.path_params["ref"]
    order = await fees.member_order(p.rt, member_id=p.member.id, order_id=ref)
    if p.request.query_params.get("poll") == "1":
        if order.status == "pending":
            return p._finish(Response(status_code=204))
        return p._finish(Response(status_code=200, headers={"HX-Redirect": p.url(f"fees/{ref}/paid")}))
    if order.status == "pending":
        await fees.check_fee_payment(p.rt, member_id=p.member.id, order_id=ref)
        order = await fees.member_order(p.rt, member_id=p.member.id, order_id=ref)
    state = {"pending": "waiting"}.get(order.status, order.status)
    return p.render("fee_pay.html", order=order, state=state, error=None, code=None)
