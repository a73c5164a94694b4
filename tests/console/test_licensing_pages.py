"""Licence and billing in the console: a city's operator sees its own contract, issued invoices
(page, printable document, PDF) and licence, never another city's; the vendor sets contract
versions through a form that keeps what was typed and says what is wrong field by field, runs
invoices, finalizes, marks paid, voids with a reason, sets the seller, installs a signed
licence (pasted or uploaded) and revokes it; every change lands in the city's audit log; roles
without the right are refused."""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from guahao.core.audit import Actor
from guahao.core.models.audit import AuditEntry
from guahao.core.runtime import Runtime
from guahao.licensing.contracts.service import contract_history, set_contract
from guahao.licensing.invoices.queries import get_invoice, list_invoices
from guahao.licensing.invoices.run import run_invoices
from guahao.licensing.invoices.seller import get_seller
from guahao.licensing.invoices.states import finalize_invoice
from guahao.licensing.ledger.append import Usage, append
from guahao.licensing.licences.document import LicenceDocument, Limits
from guahao.licensing.licences.keys import new_key_pair
from guahao.licensing.licences.service import install_licence, licence_history, licence_status
from guahao.licensing.licences.signing import sign
from guahao.licensing.licences.states import local_today
from guahao.operator_console.licensing import forms
from guahao.plugin_api import city_session, utcnow
from tests.factories import make_city

from .conftest import add_staff, add_vendor

VENDOR_KEY = new_key_pair()
STRANGER_KEY = new_key_pair()
SERVICE = Actor("vendor", 1, "test vendor", "vendor_admin")
TEMPLATES = Path(forms.__file__).resolve().parents[1] / "templates" / "licensing"


@pytest.fixture(scope="module")
async def rt(settings):
    """A runtime that trusts this test's vendor key (the demo key is not trusted on PostgreSQL)."""
    runtime = Runtime(dataclasses.replace(settings, licence_public_keys=(VENDOR_KEY.public_paserk,)))
    await runtime.start()
    yield runtime
    await runtime.stop()


def _today(city) -> date:
    return utcnow().astimezone(city.tz).date()


def _month(city) -> str:
    return _today(city).strftime("%Y-%m")


def _first(city) -> date:
    return _today(city).replace(day=1)


async def _bookings(rt, city, n: int, tag: str = "b") -> None:
    now = utcnow() - timedelta(seconds=2)
    async with city_session(rt, city) as s:
        await append(s, [Usage("booking.confirmed", 1, f"booking.confirmed:{tag}{i}", now, {"channel": "web"})
                         for i in range(n)])


async def _contract(rt, city, model="revenue_share", terms=None, since=None):
    async with city_session(rt, city) as s:
        return await set_contract(s, SERVICE, model=model, effective_from=since or _first(city),
                                  terms=terms or {"per_booking_fen": 50}, buyer={"name": f"{city.slug} 运营方"})


async def _invoice(rt, city, *, finalize: bool = True) -> int:
    outcome = (await run_invoices(rt, _month(city), city=city.slug, actor=SERVICE))[0]
    assert outcome.outcome == "drafted", outcome
    if finalize:
        async with city_session(rt, city) as s:
            await finalize_invoice(s, outcome.invoice_id, SERVICE)
    return outcome.invoice_id


async def _audit(rt, city, prefix: str) -> list[AuditEntry]:
    async with city_session(rt, city) as s:
        rows = await s.scalars(select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id))
        return list(rows.all())


def _licence(city, *, key=VENDOR_KEY, days_from=-10, days_until=100, **kw) -> str:
    today = local_today(utcnow(), city.tz)
    kw.setdefault("operator", "测试运营方")
    doc = LicenceDocument(city=city.slug, valid_from=today + timedelta(days=days_from),
                          valid_until=today + timedelta(days=days_until), **kw)
    return sign(doc, key.private_pem)


def _between(page: str, start: str, end: str = "</tr>") -> str:
    assert start in page, f"{start!r} not on the page"
    return page.split(start, 1)[1].split(end, 1)[0]


# --- the city's operator ------------------------------------------------------------------------------


async def test_a_city_admin_sees_its_own_contract_invoices_and_licence_and_never_another_citys(rt, city, browser, admin):
    await _contract(rt, city, terms={"percent": "8", "per_booking_fen": 50, "minimum_fen": 0})
    await _bookings(rt, city, 3)
    issued = await _invoice(rt, city)
    await install_licence(rt, city, _licence(city, limits=Limits(max_hospitals=7)))
    other = await make_city(rt, city.slug + "-o")
    await _contract(rt, other, terms={"per_booking_fen": 70})
    await _bookings(rt, other, 5, "o")
    foreign = await _invoice(rt, other)
    async with city_session(rt, city) as s:
        number = (await get_invoice(s, issued)).number
        total = (await get_invoice(s, issued)).total_fen
    assert number.startswith("GH-") and total == 159  # 3 × 0.50 + 6 % VAT (0.09)

    await browser.login(admin)
    home = (await browser.get(f"/console/c/{city.slug}/")).text
    assert 'id="nav-licensing"' in home and 'id="nav-licensing-usage"' not in home

    page = await browser.get(f"/console/c/{city.slug}/licensing/")
    assert page.status_code == 200
    text = page.text
    assert "收入分成" in _between(text, 'id="overview-contract"', "</section>")
    assert "每笔确认预约 0.50 元" in text
    assert 'data-state="valid"' in _between(text, 'id="overview-licence"', "</section>")
    assert '<dd id="usage-bookings">3</dd>' in text
    assert number in _between(text, 'id="overview-invoices"', "</section>")

    text = (await browser.get(f"/console/c/{city.slug}/licensing/contract")).text
    assert "8% 的挂号费" in text and 'id="version-1"' in text and "profit-form" not in text

    # A later draft (next month) is the vendor's working copy: not listed, not reachable.
    nxt = (_first(city) + timedelta(days=32)).replace(day=1).strftime("%Y-%m")
    draft = (await run_invoices(rt, nxt, city=city.slug, actor=SERVICE))[0].invoice_id
    text = (await browser.get(f"/console/c/{city.slug}/licensing/invoices")).text
    row = _between(text, f'id="invoice-{issued}"')
    assert number in row and "1.59" in row and "已开具" in row
    assert f'id="invoice-{draft}"' not in text and f'id="invoice-{foreign}"' not in text

    text = (await browser.get(f"/console/c/{city.slug}/licensing/invoices/{issued}")).text
    assert number in _between(text, 'id="invoice-number"', "</span>") and 'id="line-1"' in text
    assert "booking.confirmed" in text and "1.59" in _between(text, 'id="invoice-total"', "</dd>")
    doc = await browser.get(f"/console/c/{city.slug}/licensing/invoices/{issued}/document")
    assert doc.status_code == 200 and doc.headers["content-type"].startswith("text/html") and number in doc.text
    pdf = await browser.get(f"/console/c/{city.slug}/licensing/invoices/{issued}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"] and number in pdf.headers["content-disposition"]

    for url in (f"/invoices/{draft}", f"/invoices/{draft}/pdf", f"/invoices/{draft}/document", f"/invoices/{foreign}",
                f"/invoices/{foreign}/pdf"):
        assert (await browser.get(f"/console/c/{city.slug}/licensing{url}")).status_code == 404, url
    for path in ("", "contract", "invoices", f"invoices/{foreign}", "licence"):
        assert (await browser.get(f"/console/c/{other.slug}/licensing/{path}")).status_code == 404

    text = (await browser.get(f"/console/c/{city.slug}/licensing/licence")).text
    assert 'data-state="valid"' in text
    until = (local_today(utcnow(), city.tz) + timedelta(days=100)).isoformat()
    assert f'<dd id="licence-until">{until}</dd>' in text and '<dd id="licence-days-left">101</dd>' in text
    assert ">7<" in _between(text, 'id="limit-max_hospitals"')

    # The usage page sits under the same tabs.
    text = (await browser.get(f"/console/c/{city.slug}/licensing/usage")).text
    assert 'id="tab-usage" href' in text and 'aria-current="page">用量' in text

    # In English, the same facts in English words.
    browser.client.cookies.set("guahao_console_lang", "en")
    text = (await browser.get(f"/console/c/{city.slug}/licensing/contract")).text
    assert "Revenue share" in text and "8% of registration fees (paid minus refunded)" in text
    assert "0.50 yuan per confirmed booking" in text
    text = (await browser.get(f"/console/c/{city.slug}/licensing/invoices")).text
    assert "Issued" in _between(text, f'id="invoice-{issued}"')


async def test_a_profit_share_operator_declares_each_month_until_it_is_invoiced(rt, city, browser, admin):
    await _contract(rt, city, model="profit_share", terms={"percent": "30"})
    await browser.login(admin)
    url = f"/console/c/{city.slug}/licensing/contract"
    page = (await browser.get(url)).text
    assert 'id="profit-form"' in page and "申报运营利润的 30%" in page
    month = _month(city)

    r = await browser.post(url + "/profit", {"period": month, "profit_yuan": "12.345", "note": "初稿"})
    assert r.status_code == 422
    assert 'value="12.345"' in r.text and 'value="初稿"' in r.text
    assert "最多两位小数" in _between(r.text, 'id="error-profit_yuan"', "</span>")
    r = await browser.post(url + "/profit", {"period": "2026-13", "profit_yuan": "1"})
    assert r.status_code == 422 and 'id="error-period"' in r.text

    r = await browser.post(url + "/profit", {"period": month, "profit_yuan": "-1,234.50", "note": "亏损"})
    assert r.status_code == 303
    page = (await browser.get(r.headers["location"])).text
    assert "-1,234.50" in _between(page, f'id="profit-{month}"') and 'id="flash"' in page
    r = await browser.post(url + "/profit", {"period": month, "profit_yuan": "100000"})
    assert r.status_code == 303
    assert [(e.action, e.target_id) for e in await _audit(rt, city, "contract.profit")] == [
        ("contract.profit", month), ("contract.profit", month)]

    await _invoice(rt, city)  # 30 % of 100,000 yuan, issued
    r = await browser.post(url + "/profit", {"period": month, "profit_yuan": "1"})
    assert r.status_code == 409
    assert "已开具正式账单" in _between(r.text, 'id="form-error"', "</p>") and 'value="1"' in r.text
    assert "100,000.00" in _between(r.text, f'id="profit-{month}"')


# --- the vendor: contracts --------------------------------------------------------------------------


async def test_the_vendor_sets_a_contract_version_through_the_form(rt, city, browser):
    vendor = await add_vendor(rt)
    await browser.login(vendor)
    listing = (await browser.get("/console/vendor/contracts")).text
    assert "没有生效的合同" in _between(listing, f'id="contract-{city.slug}"')
    url = f"/console/vendor/contracts/{city.slug}"
    form = (await browser.get(url)).text
    assert 'id="contract-form"' in form and f'value="{_first(city).isoformat()}"' in form

    bad = {"model": "revenue_share", "effective_from": _first(city).isoformat(), "rs_percent": "108",
           "rs_per_booking_yuan": "0.505", "rs_minimum_yuan": "abc", "tier_up_to_1": "1000", "tier_price_1": "0.40",
           "buyer_name": "某市运营公司", "note": "试填"}
    r = await browser.post(url, bad)
    assert r.status_code == 422
    for field, value in (("rs_percent", "108"), ("rs_per_booking_yuan", "0.505"), ("rs_minimum_yuan", "abc"),
                         ("tier_up_to_1", "1000"), ("tier_price_1", "0.40"), ("buyer_name", "某市运营公司")):
        assert re.search(rf'name="{field}" id="f-{field}" value="{re.escape(value)}"', r.text), field
    assert "0 到 100" in _between(r.text, 'id="error-rs_percent"', "</span>")
    assert "分" in _between(r.text, 'id="error-rs_per_booking_yuan"', "</span>")
    assert "金额" in _between(r.text, 'id="error-rs_minimum_yuan"', "</span>")
    async with city_session(rt, city) as s:
        assert await contract_history(s) == []

    # The model's own rules, on the field they concern: tiers without an open last step.
    r = await browser.post(url, {**bad, "rs_percent": "8", "rs_per_booking_yuan": "", "rs_minimum_yuan": "3,000"})
    assert r.status_code == 422 and "最后一档" in _between(r.text, 'id="error-tiers"', "</p>")

    good = {**bad, "rs_percent": "8", "rs_per_booking_yuan": "", "rs_minimum_yuan": "3,000", "tier_price_2": "0.30"}
    r = await browser.post(url, good)
    assert r.status_code == 303
    page = (await browser.get(r.headers["location"])).text
    assert 'id="flash"' in page and 'id="version-1"' in page
    async with city_session(rt, city) as s:
        [v1] = await contract_history(s)
    assert v1.model == "revenue_share" and v1.effective_from == _first(city) and v1.note == "试填"
    assert v1.terms == {"percent": "8", "minimum_fen": 300000,
                        "tiers": [{"up_to": 1000, "per_booking_fen": 40}, {"per_booking_fen": 30}]}
    assert v1.buyer == {"name": "某市运营公司"}
    [entry] = await _audit(rt, city, "contract.")
    assert entry.action == "contract.set" and entry.actor == f"vendor:{vendor.id}"

    # An amendment dated before the version in force is refused on the date field.
    early = (_first(city) - timedelta(days=1)).isoformat()
    rental = {"model": "rental", "effective_from": early, "licence_yuan_per_year": "120000", "billing": "monthly",
              "included_sms": "1000", "overage_sms_yuan": "0.05"}
    r = await browser.post(url, rental)
    assert r.status_code == 409 and "不能早于第 1 版" in _between(r.text, 'id="error-effective_from"', "</span>")
    assert 'value="120000"' in r.text
    r = await browser.post(url, {**rental, "included_sms": ""})  # a price over a limit needs the limit
    assert r.status_code == 422 and 'id="error-overage_sms_yuan"' in r.text
    nxt = (_first(city) + timedelta(days=32)).replace(day=1)
    r = await browser.post(url, {**rental, "effective_from": nxt.isoformat()})
    assert r.status_code == 303
    async with city_session(rt, city) as s:
        v2 = (await contract_history(s))[-1]
    assert (v2.version, v2.model, v2.effective_from) == (2, "rental", nxt)
    assert v2.terms == {"licence_fen_per_year": 12000000, "maintenance_fen_per_year": 0, "billing": "monthly",
                        "included_sms_per_month": 1000, "overage_hospital_fen": 0, "overage_booking_fen": 0,
                        "overage_sms_fen": 5}
    listing = (await browser.get("/console/vendor/contracts")).text
    row = _between(listing, f'id="contract-{city.slug}"')
    assert "收入分成" in row and f"v2 {nxt.isoformat()}" in row
    form = (await browser.get(url)).text  # the next version starts from the one in force
    assert 'name="rs_percent" id="f-rs_percent" value="8"' in form


# --- the vendor: invoices ---------------------------------------------------------------------------


async def test_the_vendor_runs_finalizes_downloads_pays_and_voids_invoices(rt, city, browser):
    await _contract(rt, city, terms={"per_booking_fen": 50})
    await _bookings(rt, city, 4)
    vendor = await add_vendor(rt)
    await browser.login(vendor)
    month = _month(city)

    r = await browser.post("/console/vendor/invoices/run", {"period": "11/2026", "city": city.slug})
    assert r.status_code == 422 and 'value="11/2026"' in r.text and 'id="error-run-period"' in r.text
    r = await browser.post("/console/vendor/invoices/run", {"period": month, "city": city.slug})
    assert r.status_code == 200
    row = _between(r.text, f'id="outcome-{city.slug}"')
    assert 'data-outcome="drafted"' in r.text and "2.12" in row  # 4 × 0.50 + 0.12 VAT
    invoice_id = int(re.search(r'/console/vendor/invoices/(\d+)" id="outcome-open', row).group(1))

    page = (await browser.get(f"/console/vendor/invoices?period={month}&city={city.slug}")).text
    assert 'data-status="draft"' in _between(page, f'id="vinvoice-{invoice_id}"')
    assert (await browser.get("/console/vendor/invoices?period=2026-99")).status_code == 422

    url = f"/console/vendor/invoices/{invoice_id}"
    page = (await browser.get(url)).text
    assert 'id="invoice-finalize"' in page and 'id="invoice-void"' not in page
    r = await browser.post(url + "/pay", {"reference": "too early"})
    assert r.status_code == 409 and "草稿" in _between(r.text, 'id="form-error"', "</p>")
    r = await browser.post(url + "/finalize", {"issued_on": "tomorrow"})
    assert r.status_code == 422 and 'id="error-issued_on"' in r.text
    r = await browser.post(url + "/finalize", {"issued_on": _today(city).isoformat()})
    assert r.status_code == 303
    page = (await browser.get(url)).text
    async with city_session(rt, city) as s:
        number = (await get_invoice(s, invoice_id)).number
    assert number in _between(page, 'id="flash"', "</p>") and 'data-state="finalized"' in page
    r = await browser.post(url + "/finalize", {})
    assert r.status_code == 409 and "不能开具" in r.text

    pdf = await browser.get(url + "/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and number in pdf.headers["content-disposition"]
    doc = await browser.get(url + "/document")
    assert doc.status_code == 200 and number in doc.text

    r = await browser.post(url + "/void", {"reason": "  "})
    assert r.status_code == 422 and "原因" in _between(r.text, 'id="error-reason"', "</span>")
    r = await browser.post(url + "/void", {"reason": "单价录入有误"})
    assert r.status_code == 303
    page = (await browser.get(url)).text
    assert 'data-state="voided"' in page and "单价录入有误" in page and "GHCN-" in _between(page, 'id="invoice-pair"', "</p>")
    page = (await browser.get(f"/console/vendor/invoices?status=voided&city={city.slug}")).text
    assert f'id="vinvoice-{invoice_id}"' in page

    # The month may be invoiced again: run, finalize, mark paid.
    r = await browser.post("/console/vendor/invoices/run", {"period": month, "city": ""})
    again = int(re.search(r'/console/vendor/invoices/(\d+)" id="outcome-open', _between(r.text, f'id="outcome-{city.slug}"'))
                .group(1))
    await browser.post(f"/console/vendor/invoices/{again}/finalize", {})
    r = await browser.post(f"/console/vendor/invoices/{again}/pay", {"reference": "银行转账 20261205"})
    assert r.status_code == 303
    async with city_session(rt, city) as s:
        paid = await get_invoice(s, again)
        kinds = sorted((i.kind, i.status) for i in await list_invoices(s))
    assert (paid.status, paid.paid_reference) == ("paid", "银行转账 20261205")
    assert kinds == [("credit_note", "finalized"), ("invoice", "paid"), ("invoice", "voided")]
    actions = [e.action for e in await _audit(rt, city, "invoice.")]
    assert actions == ["invoice.draft", "invoice.finalize", "invoice.void", "invoice.draft", "invoice.finalize",
                       "invoice.paid"]
    assert {e.actor for e in await _audit(rt, city, "invoice.")} == {f"vendor:{vendor.id}"}

    # A second run of the month skips the city with the reason in words.
    r = await browser.post("/console/vendor/invoices/run", {"period": month, "city": city.slug})
    row = _between(r.text, f'id="outcome-{city.slug}"')
    assert 'data-outcome="skipped"' in r.text and paid.number in row and "作废" in row

    # The seller printed on invoices drafted from now on; the change is audited.
    r = await browser.post("/console/vendor/invoices/seller", {"name": "某某信息技术有限公司", "tax_id": "91330100TEST"})
    assert r.status_code == 303
    async with rt.db.transaction() as s:
        assert (await get_seller(s))["tax_id"] == "91330100TEST"
    [entry] = await _audit(rt, city, "invoice.seller")
    assert entry.after["name"] == "某某信息技术有限公司"
    r = await browser.post("/console/vendor/invoices/seller", {"name": " "})
    assert r.status_code == 422


# --- the vendor: licences ---------------------------------------------------------------------------


async def test_the_vendor_installs_renews_and_revokes_a_licence(rt, city, browser):
    vendor = await add_vendor(rt)
    await browser.login(vendor)
    await _contract(rt, city, model="rental", terms={"licence_fen_per_year": 100})
    listing = (await browser.get("/console/vendor/licences")).text
    assert 'data-state="unlicensed"' in _between(listing, f'id="licences-{city.slug}"')
    url = f"/console/vendor/licences/{city.slug}"
    page = (await browser.get(url)).text
    command = html.unescape(_between(page, 'id="renew-command">', "</pre>"))
    today = local_today(utcnow(), city.tz)
    assert command.startswith("guahao licence sign --key ~/guahao-vendor-keys/licence-signing.private.pem")
    assert f"--city {city.slug} " in command and "--model rental" in command and f"--from {today}" in command

    # A foreign-signed licence is refused with the reason, and nothing is installed.
    forged = _licence(city, key=STRANGER_KEY)
    r = await browser.post(url + "/install", {"token": forged})
    assert r.status_code == 422 and "不信任" in _between(r.text, 'id="error-token"', "</p>")
    assert forged in r.text
    r = await browser.post(url + "/install", {"token": ""})
    assert r.status_code == 422
    assert await licence_history(rt, city) == []

    r = await browser.post(url + "/install", {"token": _licence(city, limits=Limits(max_hospitals=5, channels=("web",)))})
    assert r.status_code == 303
    page = (await browser.get(r.headers["location"])).text
    assert "有效" in _between(page, 'id="flash"', "</p>")
    first = (await licence_history(rt, city))[0]["licence_id"]
    until = today + timedelta(days=100)
    command = html.unescape(_between(page, 'id="renew-command">', "</pre>"))
    assert f"--from {until + timedelta(days=1)} " in command and "--max-hospitals 5 " in command
    assert "--channels web " in command and "--operator '测试运营方' " in command
    page = (await browser.get(url + "?max_hospitals=9&channels=web,app&grace_days=400")).text
    command = html.unescape(_between(page, 'id="renew-command">', "</pre>"))
    assert "--max-hospitals 9 " in command and "--channels web,app " in command and "--grace-days 30 " in command
    assert 'id="error-renew-grace_days"' in page

    # A renewal uploaded as a file.
    renewal = _licence(city, days_from=101, days_until=465, licence_id="lic-renewal-1")
    r = await browser.client.post(url + "/install", data={"csrf": browser.csrf},
                                  files={"file": ("renewal.licence", renewal.encode() + b"\n", "text/plain")})
    assert r.status_code == 303
    assert [h["licence_id"] for h in await licence_history(rt, city)] == ["lic-renewal-1", first]

    r = await browser.post(url + "/revoke", {"licence_id": "lic-renewal-1", "reason": ""})
    assert r.status_code == 422 and 'id="error-reason"' in r.text
    r = await browser.post(url + "/revoke", {"licence_id": "lic-renewal-1", "reason": "合同变更"})
    assert r.status_code == 303
    r = await browser.post(url + "/revoke", {"licence_id": "lic-renewal-1", "reason": "again"})
    assert r.status_code == 404 and 'id="form-error"' in r.text
    history = await licence_history(rt, city)
    assert [(h["licence_id"], h["revoke_reason"]) for h in history] == [("lic-renewal-1", "合同变更"), (first, "")]
    assert (await licence_status(rt, city, with_usage=False))["licence_id"] == first
    assert [e.action for e in await _audit(rt, city, "licence.")] == ["licence.install", "licence.install",
                                                                      "licence.revoke"]
    page = (await browser.get(url)).text
    assert _between(page, 'id="licence-lic-renewal-1"', ">") == ' class="inactive"'


# --- who may ----------------------------------------------------------------------------------------


async def test_roles_without_the_right_are_refused(rt, city, browser, new_browser, admin):
    await _contract(rt, city)
    agent = await add_staff(rt, city, "agent")
    await browser.login(agent)
    for path in ("", "contract", "invoices", "licence", "usage"):
        r = await browser.get(f"/console/c/{city.slug}/licensing/{path}")
        assert r.status_code == 403, path
        assert 'id="error-message"' in r.text
    r = await browser.post(f"/console/c/{city.slug}/licensing/contract/profit", {"period": "2026-01", "profit_yuan": "1"})
    assert r.status_code == 403
    assert (await browser.get("/console/vendor/contracts")).status_code == 404

    other = new_browser()
    await other.login(admin)  # a city admin: its own city's pages, none of the vendor's
    assert (await other.get(f"/console/c/{city.slug}/licensing/")).status_code == 200
    for path in ("contracts", f"contracts/{city.slug}", "invoices", "licences", f"licences/{city.slug}"):
        assert (await other.get(f"/console/vendor/{path}")).status_code == 404, path
    r = await other.post(f"/console/vendor/contracts/{city.slug}", {"model": "rental", "effective_from": "2030-01-01",
                                                                    "licence_yuan_per_year": "1"})
    assert r.status_code == 404
    async with city_session(rt, city) as s:
        assert len(await contract_history(s)) == 1


async def test_a_form_posted_without_its_token_changes_nothing(rt, city, browser):
    vendor = await add_vendor(rt)
    await browser.login(vendor)
    r = await browser.post(f"/console/vendor/contracts/{city.slug}",
                           {"model": "rental", "effective_from": "2030-01-01", "licence_yuan_per_year": "1"}, csrf="x")
    assert r.status_code == 403
    async with city_session(rt, city) as s:
        assert await contract_history(s) == []


# --- amounts and words --------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, fen", [("0.50", 50), ("120000", 12_000_000), ("1,200.5", 120_050), ("¥3", 300),
                                        ("0.500", 50), ("", None), ("-2.5", "negative"), ("1.005", "fen"),
                                        ("1e3", "yuan"), ("abc", "yuan")])
def test_yuan_typed_becomes_exact_fen(typed, fen):
    if isinstance(fen, str):
        with pytest.raises(forms.FieldError) as err:
            forms.parse_fen(typed)
        assert err.value.message == {"negative": forms.E_NEGATIVE, "fen": forms.E_FEN, "yuan": forms.E_YUAN}[fen]
    else:
        assert forms.parse_fen(typed) == fen
    assert forms.parse_fen("-2.5", negative=True) == -250


def test_every_message_of_the_licensing_pages_is_translated():
    from guahao.operator_console.kit.pages import translator

    literal = re.compile(r"""_\(\s*"([^"]+)"\s*[,)]""")
    found = set()
    for path in TEMPLATES.glob("*.html"):
        found.update(literal.findall(path.read_text(encoding="utf-8")))
        found.update(re.findall(r'\("[a-z_]+", "([A-Z][^"]+)"', path.read_text(encoding="utf-8")))
    source = "".join(Path(m.__file__).read_text(encoding="utf-8") for m in _modules())
    found.update(literal.findall(source))
    found.update(v for k, v in vars(forms).items() if k.startswith("E_"))
    found.update(text for _, _, text in forms.RENTAL_LIMITS)
    from guahao.operator_console.licensing import vendor

    found.update(text for _, text in vendor.RUN_REASONS)
    from guahao.operator_console.licensing import common

    found.update(common.INVOICE_STATES.values(), common.INVOICE_KINDS.values(), common.LICENCE_STATES.values(),
                 common.LIMIT_LABELS.values())
    from guahao.operator_console.kit.navigation import CITY_NAV, VENDOR_NAV

    found.update(x for i in CITY_NAV + VENDOR_NAV if i.key.startswith(("licensing", "vendor-")) for x in (i.label, i.description))
    zh = translator("zh-CN")
    missing = sorted(m for m in found if zh.gettext(m) == m)
    assert len(found) > 150 and missing == []


def _modules():
    from guahao.operator_console.licensing import city, common, vendor

    return (city, common, forms, vendor)
