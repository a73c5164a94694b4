"""The vendor's licensing pages: every city's contract (and a form for a new version), the
invoice runs and invoices (finalize, mark paid, void; the seller printed on them), and every
city's licence (install a signed token, revoke, and the command that signs a renewal offline).

Every change goes through the licensing services, which audit it in the city's log; a refusal
is shown on the page it came from with its 4xx status.
"""

from __future__ import annotations

from datetime import date, timedelta

from starlette.datastructures import UploadFile
from starlette.responses import Response
from starlette.routing import Route

from guahao.core.audit import record
from guahao.core.errors import DomainError, ValidationFailed
from guahao.licensing.contracts.service import contract_summary, set_contract
from guahao.licensing.invoices.models import STATES
from guahao.licensing.invoices.queries import city_of_invoice, list_all_invoices
from guahao.licensing.invoices.run import run_invoices
from guahao.licensing.invoices.seller import FIELDS as SELLER_FIELDS
from guahao.licensing.invoices.seller import get_seller, set_seller
from guahao.licensing.invoices.states import finalize_invoice, mark_paid, void_invoice
from guahao.licensing.licences.console import active_cities, adjusted, every_city_status, renewal, sign_command
from guahao.licensing.licences.document import MODELS as LICENCE_MODELS
from guahao.licensing.licences.service import install_licence, licence_history, licence_status, revoke_licence
from guahao.plugin_api import city_session
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, use_city

from ..kit.pages import Console, console_page
from . import forms
from .city import contract_context
from .common import city_by_slug, helpers, invoice_document, invoice_pdf_response, invoice_view, say

TOKEN_MAX = 16_384
RUN_REASONS = (
    ("no contract in force in ", "No contract in force in %(period)s."),
    ("no operating profit declared for the month of ", "No operating profit declared for %(period)s."),
)


def _today(city: CityContext) -> date:
    return utcnow().astimezone(city.tz).date()


def _last_month() -> str:
    return (utcnow().date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _next_first(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


# --- contracts -------------------------------------------------------------------------------------


@console_page("vendor.manage", vendor_only=True)
async def contracts(c: Console) -> Response:
    rows = []
    for city in await active_cities(c.rt):
        async with city_session(c.rt, city) as s:
            summary = await contract_summary(s, _today(city))
        ctx = contract_context(c, summary)
        rows.append({"slug": city.slug, "name": city.name, "in_force": ctx["in_force"], "scheduled": ctx["scheduled"],
                     "versions": len(summary["history"])})
    return c.render("licensing/vendor_contracts.html", rows=rows, **helpers(c))


async def _contract_page(c: Console, city: CityContext, *, values: dict | None = None, errors: dict | None = None,
                         error: str = "", status: int = 200) -> Response:
    today = _today(city)
    async with city_session(c.rt, city) as s:
        summary = await contract_summary(s, today)
    if values is None:
        base = summary["in_force"] or (summary["history"][-1] if summary["history"] else None)
        start = _next_first(today) if summary["history"] else today.replace(day=1)
        values = forms.contract_values(base, effective_from=start)
    return c.render("licensing/vendor_contract.html", status=status, target=city, values=values, errors=errors or {},
                    error=error, tier_count=forms.tier_rows(values), models=forms.MODELS,
                    model_label=lambda m: forms.model_label(m, c.lang), **contract_context(c, summary), **helpers(c))


_DATE_REFUSALS = ("contract_date_too_early", "contract_period_invoiced")


@console_page("vendor.manage", vendor_only=True)
async def contract_city(c: Console) -> Response:
    """A city's contract, and the form for its next version (POST stores it)."""
    city = await city_by_slug(c, c.request.path_params["slug"])
    if c.request.method != "POST":
        return await _contract_page(c, city)
    form = forms.read_contract_form(c.form)
    if not form.ok:
        errors = {k: c._(v) for k, v in form.errors.items()}
        return await _contract_page(c, city, values=c.form, errors=errors, error=c._("Please correct the fields marked."),
                                    status=422)
    try:
        async with city_session(c.rt, city) as s:
            version = await set_contract(s, c.actor(), model=form.model, effective_from=form.effective_from,
                                         terms=form.terms, buyer=form.buyer or None, note=form.note)
    except DomainError as exc:
        errors = {"effective_from": say(c, exc)} if exc.code in _DATE_REFUSALS else {}
        return await _contract_page(c, city, values=c.form, errors=errors, error=say(c, exc), status=exc.status)
    return c.redirect(f"/console/vendor/contracts/{city.slug}", flash=c._(
        "Version %(version)s of the contract of %(city)s is stored: it takes effect on %(day)s.",
        version=version.version, city=city.name, day=version.effective_from.isoformat()))


# --- invoices --------------------------------------------------------------------------------------


def _run_reason(c: Console, reason: str) -> str:
    for prefix, text in RUN_REASONS:
        if reason.startswith(prefix):
            return c._(text, period=reason.removeprefix(prefix))
    if reason.startswith("already "):
        state, _, rest = reason.removeprefix("already ").partition(" as ")
        number = rest.split(";", 1)[0]
        return c._("Already %(state)s as %(number)s: void it to invoice the month again.",
                   state=helpers(c)["invoice_state"](state), number=number)
    return reason


def _filters(c: Console) -> tuple[dict, dict]:
    q = c.request.query_params
    values = {"period": q.get("period", "").strip(), "status": q.get("status", ""), "city": q.get("city", "")}
    errors = {}
    if values["period"]:
        try:
            values["period"] = forms.parse_month_text(values["period"])
        except forms.FieldError as exc:
            errors["period"] = c._(exc.message)
    if values["status"] not in STATES:
        values["status"] = ""
    return values, errors


async def _invoices_page(c: Console, *, filters: dict | None = None, filter_errors: dict | None = None,
                         outcomes: list | None = None, run_values: dict | None = None, run_errors: dict | None = None,
                         seller_values: dict | None = None, error: str = "", status: int = 200) -> Response:
    filters = filters or {"period": "", "status": "", "city": ""}
    cities = await active_cities(c.rt)
    rows = []
    if not filter_errors:
        rows = await list_all_invoices(c.rt, city=filters["city"] or None, period=filters["period"] or None,
                                       status=filters["status"] or None)
    async with c.rt.db.transaction() as s:
        seller = await get_seller(s)
    return c.render("licensing/vendor_invoices.html", status=status, rows=rows, cities=cities, filters=filters,
                    filter_errors=filter_errors or {}, outcomes=outcomes,
                    run_values=run_values or {"period": _last_month(), "city": ""}, run_errors=run_errors or {},
                    seller=seller_values if seller_values is not None else seller, seller_fields=SELLER_FIELDS,
                    states=STATES, error=error, **helpers(c))


@console_page("vendor.manage", vendor_only=True)
async def invoices(c: Console) -> Response:
    filters, errors = _filters(c)
    return await _invoices_page(c, filters=filters, filter_errors=errors, status=422 if errors else 200)


@console_page("vendor.manage", vendor_only=True)
async def run(c: Console) -> Response:
    """The invoice run for a month, every city with a contract or one; each city's outcome shown."""
    values = {"period": c.form.get("period", "").strip(), "city": c.form.get("city", "").strip()}
    try:
        period = forms.parse_month_text(values["period"])
    except forms.FieldError as exc:
        return await _invoices_page(c, run_values=values, run_errors={"period": c._(exc.message)}, status=422)
    slug = None
    if values["city"]:
        slug = (await city_by_slug(c, values["city"])).slug
    try:
        found = await run_invoices(c.rt, period, city=slug, actor=c.actor())
    except DomainError as exc:
        return await _invoices_page(c, run_values=values, error=say(c, exc), status=exc.status)
    outcomes = [{**o.as_dict(), "reason_text": _run_reason(c, o.reason)} for o in found]
    filters = {"period": period, "status": "", "city": slug or ""}
    return await _invoices_page(c, filters=filters, outcomes=outcomes, run_values=values)


@console_page("vendor.manage", vendor_only=True)
async def seller(c: Console) -> Response:
    """The seller (the vendor) printed on the invoices drafted from now on; the change is
    written to the audit log of every active city, whose next invoices carry it."""
    changes = {k: c.form.get(k, "") for k in SELLER_FIELDS}
    if not changes["name"].strip():
        return await _invoices_page(c, seller_values=changes, error=c._("The seller's name is required."), status=422)
    async with c.rt.db.transaction() as s:
        before = await get_seller(s)
        after = await set_seller(s, **changes)
    for city in await active_cities(c.rt):
        with use_city(city):
            async with c.rt.db.transaction() as s:
                record(s, c.actor(), "invoice.seller", target_type="seller", target_id=1,
                       summary=f"账单销售方信息变更：{after.get('name', '')}", before=before, after=after)
    return c.redirect("/console/vendor/invoices", flash=c._("The seller's details are saved; invoices drafted from now on "
                                                            "carry them."))


async def _invoice_page(c: Console, invoice_id: int, *, error: str = "", errors: dict | None = None,
                        values: dict | None = None, status: int = 200) -> Response:
    city = await city_of_invoice(c.rt, invoice_id)
    async with city_session(c.rt, city) as s:
        view = await invoice_view(s, invoice_id, city, city_sees_only=False)
    base = f"/console/vendor/invoices/{invoice_id}"
    return c.render("licensing/invoice.html", status=status, view=view, vendor=True, target=city, base=base,
                    back="/console/vendor/invoices", pair_url="/console/vendor/invoices/", error=error,
                    errors=errors or {}, values=values or {}, today=_today(city).isoformat(), **helpers(c))


@console_page("vendor.manage", vendor_only=True)
async def invoice(c: Console) -> Response:
    return await _invoice_page(c, int(c.request.path_params["invoice_id"]))


@console_page("vendor.manage", vendor_only=True)
async def act(c: Console) -> Response:
    """Finalize, mark paid or void an invoice (the services lock it, check its state, audit)."""
    invoice_id = int(c.request.path_params["invoice_id"])
    action = c.request.url.path.rsplit("/", 1)[1]
    city = await city_of_invoice(c.rt, invoice_id)
    issued_on = None
    if action == "finalize" and c.form.get("issued_on", "").strip():
        try:
            issued_on = forms.parse_day(c.form.get("issued_on"))
        except forms.FieldError as exc:
            return await _invoice_page(c, invoice_id, errors={"issued_on": c._(exc.message)}, values=c.form, status=422)
    try:
        async with city_session(c.rt, city) as s:
            if action == "finalize":
                done = await finalize_invoice(s, invoice_id, c.actor(), issued_on=issued_on)
                flash = c._("Invoice %(number)s is issued.", number=done.number)
            elif action == "pay":
                done = await mark_paid(s, invoice_id, c.actor(), reference=c.form.get("reference", ""))
                flash = c._("Invoice %(number)s is marked paid.", number=done.number)
            else:
                done, credit = await void_invoice(s, invoice_id, c.actor(), reason=c.form.get("reason", ""))
                flash = c._("Invoice %(number)s is voided; credit note %(credit)s is issued.", number=done.number,
                            credit=credit.number)
    except DomainError as exc:
        errors = {"reason": say(c, exc)} if exc.code == "void_reason_required" else {}
        return await _invoice_page(c, invoice_id, error=say(c, exc), errors=errors, values=c.form, status=exc.status)
    return c.redirect(f"/console/vendor/invoices/{invoice_id}", flash=flash)


@console_page("vendor.manage", vendor_only=True)
async def document(c: Console) -> Response:
    invoice_id = int(c.request.path_params["invoice_id"])
    city = await city_of_invoice(c.rt, invoice_id)
    async with city_session(c.rt, city) as s:
        return await invoice_document(c, s, invoice_id, city_sees_only=False)


@console_page("vendor.manage", vendor_only=True)
async def pdf(c: Console) -> Response:
    invoice_id = int(c.request.path_params["invoice_id"])
    city = await city_of_invoice(c.rt, invoice_id)
    async with city_session(c.rt, city) as s:
        return await invoice_pdf_response(c, s, invoice_id, city, city_sees_only=False)


# --- licences --------------------------------------------------------------------------------------


@console_page("vendor.manage", vendor_only=True)
async def licences(c: Console) -> Response:
    rows = [{"city": city, "status": status} for city, status in await every_city_status(c.rt)]
    return c.render("licensing/vendor_licences.html", rows=rows, **helpers(c))


def _renewal_edits(c: Console, base) -> tuple[dict, dict]:
    """The vendor's edits of the prefilled renewal (query string), each checked."""
    q = c.request.query_params
    changes: dict = {}
    errors: dict[str, str] = {}
    for name, key in (("valid_from", "valid_from"), ("valid_until", "valid_until")):
        if q.get(name, "").strip():
            try:
                changes[key] = forms.parse_day(q.get(name))
            except forms.FieldError as exc:
                errors[name] = c._(exc.message)
    for name in ("max_hospitals", "max_bookings_per_month", "grace_days"):
        if name in q:
            try:
                value = forms.parse_count(q.get(name))
            except forms.FieldError as exc:
                errors[name] = c._(exc.message)
                continue
            if name == "grace_days":
                if value is None or value > 366:
                    errors[name] = c._("Enter a number of days from 0 to 366.")
                    continue
            changes[name] = value
    if "channels" in q:
        channels = tuple(x.strip() for x in q.get("channels", "").replace("，", ",").split(",") if x.strip())
        changes["channels"] = channels or None
    if q.get("model") in LICENCE_MODELS:
        changes["model"] = q.get("model")
    if q.get("operator", "").strip():
        changes["operator"] = q.get("operator", "").strip()[:200]
    if q.get("key_path", "").strip():
        changes["key_path"] = q.get("key_path", "").strip()[:300]
    end, start = changes.get("valid_until", base.valid_until), changes.get("valid_from", base.valid_from)
    if end < start:
        errors["valid_until"] = c._("The last day comes before the first.")
        changes.pop("valid_until", None)
    return changes, errors


async def _licence_page(c: Console, city: CityContext, *, error: str = "", errors: dict | None = None,
                        values: dict | None = None, status: int = 200) -> Response:
    current = await licence_status(c.rt, city)
    history = await licence_history(c.rt, city)
    async with city_session(c.rt, city) as s:
        contract = (await contract_summary(s, _today(city)))["in_force"]
    base = renewal(current, city, model=contract["model"] if contract else None,
                   operator=(contract or {}).get("buyer", {}).get("name"))
    changes, renew_errors = _renewal_edits(c, base)
    chosen = adjusted(base, **changes)
    return c.render("licensing/vendor_licence.html", status=status, target=city, licence=current, history=history,
                    renewal=chosen, command=sign_command(chosen), renew_errors=renew_errors, models=LICENCE_MODELS,
                    error=error, errors=errors or {}, values=values or {}, **helpers(c))


@console_page("vendor.manage", vendor_only=True)
async def licence_city(c: Console) -> Response:
    return await _licence_page(c, await city_by_slug(c, c.request.path_params["slug"]))


async def _token(c: Console) -> str:
    """The licence token pasted, or read from the uploaded file."""
    pasted = c.form.get("token", "").strip()
    if pasted:
        return pasted
    upload = (await c.request.form()).get("file")  # parsed (and cached) by the page wrapper
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(TOKEN_MAX + 1)
        if len(data) > TOKEN_MAX:
            raise ValidationFailed("licence_file_too_large", "许可证文件过大 / the licence file is too large")
        try:
            return data.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ValidationFailed("licence_file_unreadable", "许可证文件不是文本 / the licence file is not text") from None
    return ""


@console_page("vendor.manage", vendor_only=True)
async def install(c: Console) -> Response:
    """Install a licence the vendor signed offline (pasted or uploaded); verified first."""
    city = await city_by_slug(c, c.request.path_params["slug"])
    try:
        token = await _token(c)
        if not token:
            return await _licence_page(c, city, errors={"token": c._("Paste the signed licence or choose its file.")},
                                       status=422)
        outcome = await install_licence(c.rt, city, token, actor=c.actor())
    except DomainError as exc:
        return await _licence_page(c, city, errors={"token": say(c, exc)}, values=c.form, status=exc.status)
    doc = outcome.licence.document
    text = ("Licence %(id)s is installed (valid %(start)s to %(end)s); the city's licence is now: %(state)s."
            if outcome.added else "Licence %(id)s was installed already; the city's licence is: %(state)s.")
    return c.redirect(f"/console/vendor/licences/{city.slug}", flash=c._(
        text, id=doc.licence_id, start=doc.valid_from.isoformat(), end=doc.valid_until.isoformat(),
        state=helpers(c)["licence_state"](outcome.state.state)))


@console_page("vendor.manage", vendor_only=True)
async def revoke(c: Console) -> Response:
    """Withdraw one licence of a city, or all of them (audited, history kept)."""
    city = await city_by_slug(c, c.request.path_params["slug"])
    reason = c.form.get("reason", "").strip()
    if not reason:
        return await _licence_page(c, city, errors={"reason": c._("Say why the licence is revoked.")}, values=c.form,
                                   status=422)
    try:
        revoked = await revoke_licence(c.rt, city, actor=c.actor(), licence_id=c.form.get("licence_id") or None,
                                       reason=reason)
    except DomainError as exc:
        return await _licence_page(c, city, error=say(c, exc), values=c.form, status=exc.status)
    return c.redirect(f"/console/vendor/licences/{city.slug}",
                      flash=c._("Revoked: %(ids)s.", ids=", ".join(revoked)))


def routes() -> list:
    return [
        Route("/vendor/contracts", contracts, methods=["GET"]),
        Route("/vendor/contracts/{slug}", contract_city, methods=["GET", "POST"]),
        Route("/vendor/invoices", invoices, methods=["GET"]),
        Route("/vendor/invoices/run", run, methods=["POST"]),
        Route("/vendor/invoices/seller", seller, methods=["POST"]),
        Route("/vendor/invoices/{invoice_id:int}", invoice, methods=["GET"]),
        Route("/vendor/invoices/{invoice_id:int}/finalize", act, methods=["POST"]),
        Route("/vendor/invoices/{invoice_id:int}/pay", act, methods=["POST"]),
        Route("/vendor/invoices/{invoice_id:int}/void", act, methods=["POST"]),
        Route("/vendor/invoices/{invoice_id:int}/document", document, methods=["GET"]),
        Route("/vendor/invoices/{invoice_id:int}/pdf", pdf, methods=["GET"]),
        Route("/vendor/licences", licences, methods=["GET"]),
        Route("/vendor/licences/{slug}", licence_city, methods=["GET"]),
        Route("/vendor/licences/{slug}/install", install, methods=["POST"]),
        Route("/vendor/licences/{slug}/revoke", revoke, methods=["POST"]),
    ]
