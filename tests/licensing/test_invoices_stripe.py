"""Pushing an issued invoice to Stripe Invoicing (a local fake of Stripe's API): customer,
items for every line and VAT, finalized, totals equal; once only; refusals are clear."""

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from guahao.core.audit import Actor
from guahao.core.cli import main
from guahao.core.errors import Conflict
from guahao.licensing.contracts.service import set_contract
from guahao.licensing.invoices.queries import get_invoice
from guahao.licensing.invoices.run import run_invoices
from guahao.licensing.invoices.states import finalize_invoice
from guahao.licensing.invoices.stripe_push import StripePushFailed, push_to_stripe, stripe_client
from guahao.licensing.ledger.append import Usage, append
from guahao.plugin_api import city_session
from tests.fakes.live import LiveServer
from tests.fakes.stripe_invoicing import FakeStripeInvoicing

VENDOR = Actor("vendor", 1, name="厂商财务")


@pytest.fixture(scope="module")
def stripe_invoicing():
    fake = FakeStripeInvoicing()
    with LiveServer(fake.app) as server:
        fake.url = server.url
        yield fake


async def _issued(rt, city, *, refund: bool = False) -> int:
    at = datetime(2026, 11, 3, 3, tzinfo=UTC)
    async with city_session(rt, city) as s:
        await set_contract(s, VENDOR, model="revenue_share", effective_from=date(2026, 1, 1),
                           terms={"percent": "10", "per_booking_fen": 100}, buyer={"name": "运营公司", "email": "ops@example.cn"})
        rows = [Usage("booking.confirmed", 1, "booking.confirmed:1", at), Usage("fee.paid_fen", 5_000, "fee.paid_fen:1:p", at)]
        if refund:
            rows.append(Usage("fee.refunded_fen", 2_000, "fee.refunded_fen:1:r", at))
        await append(s, rows)
    [outcome] = await run_invoices(rt, "2026-11", city=city.slug)
    async with city_session(rt, city) as s:
        await finalize_invoice(s, outcome.invoice_id, VENDOR)
    return outcome.invoice_id


async def test_an_issued_invoice_is_pushed_once_with_every_line(rt, city, stripe_invoicing):
    account = stripe_invoicing.add_account()
    client = stripe_client(account.secret_key, stripe_invoicing.url)
    invoice_id = await _issued(rt, city, refund=True)
    pushed = await push_to_stripe(rt, city, invoice_id, VENDOR, client=client)
    books = stripe_invoicing.books(account)
    remote = books.invoices[pushed.stripe_invoice_id]
    # 10 % of 5,000 = 500; refunds 10 % of 2,000 = -200; 1 × 100; subtotal 400; VAT 24; total 424
    assert [line["amount"] for line in remote["lines"]["data"]] == [500, -200, 100, 24]
    assert remote["status"] == "open" and remote["total"] == 424 == pushed.total_fen
    assert remote["collection_method"] == "send_invoice" and remote["currency"] == "cny"
    assert remote["metadata"] == {"guahao_invoice": pushed.number, "guahao_city": city.slug, "guahao_period": "2026-11"}
    [customer] = books.customers.values()
    assert customer["metadata"] == {"guahao_city": city.slug} and customer["email"] == "ops@example.cn"
    assert pushed.stripe_status == "open"
    with pytest.raises(Conflict, match="invoice_already_pushed"):
        await push_to_stripe(rt, city, invoice_id, VENDOR, client=client)
    async with city_session(rt, city) as s:
        assert (await get_invoice(s, invoice_id)).stripe_invoice_id == remote["id"]
    # the next month's invoice finds the same customer
    async with city_session(rt, city) as s:
        await append(s, [Usage("booking.confirmed", 1, "booking.confirmed:2", datetime(2026, 12, 3, 3, tzinfo=UTC))])
    [outcome] = await run_invoices(rt, "2026-12", city=city.slug)
    async with city_session(rt, city) as s:
        await finalize_invoice(s, outcome.invoice_id, VENDOR)
    await push_to_stripe(rt, city, outcome.invoice_id, VENDOR, client=client)
    assert len(books.customers) == 1 and len(books.invoices) == 2


async def test_drafts_and_refusals_are_clear(rt, city, stripe_invoicing):
    account = stripe_invoicing.add_account()
    async with city_session(rt, city) as s:
        await set_contract(s, VENDOR, model="revenue_share", effective_from=date(2026, 1, 1), terms={"per_booking_fen": 1})
    [outcome] = await run_invoices(rt, "2026-11", city=city.slug)
    with pytest.raises(Conflict, match="invoice_not_issued"):
        await push_to_stripe(rt, city, outcome.invoice_id, VENDOR,
                             client=stripe_client(account.secret_key, stripe_invoicing.url))
    async with city_session(rt, city) as s:
        await finalize_invoice(s, outcome.invoice_id, VENDOR)
    with pytest.raises(StripePushFailed, match="Invalid API Key"):
        await push_to_stripe(rt, city, outcome.invoice_id, VENDOR, client=stripe_client("sk_test_wrong", stripe_invoicing.url))
    async with city_session(rt, city) as s:
        assert (await get_invoice(s, outcome.invoice_id)).stripe_invoice_id == ""


def test_invoice_push_command(settings, monkeypatch, stripe_invoicing, tmp_path, capsys):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUAHAO_SECRET_KEY", settings.secret_key)
    monkeypatch.delenv("DATABASE_APP_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    slug = f"push{uuid.uuid4().hex[:8]}"
    assert main(["city", "create", slug, "推送市"]) == 0
    assert main(["contract", "set", slug, "--model", "rental", "--from", "2026-11-01", "--licence-fen-per-year", "120000"]) == 0
    capsys.readouterr()
    assert main(["invoice", "run", "--period", "2026-11", "--city", slug, "--json"]) == 0
    n = str(json.loads(capsys.readouterr().out)[0]["invoice_id"])
    assert main(["invoice", "finalize", n]) == 0
    account = stripe_invoicing.add_account()
    key = tmp_path / "stripe.key"
    key.write_text("not a key\n")
    assert main(["invoice", "push", n, "--stripe-key-file", str(key), "--stripe-api-base", stripe_invoicing.url]) == 1
    assert "does not hold a Stripe secret key" in capsys.readouterr().err
    key.write_text(account.secret_key + "\n")
    assert main(["invoice", "push", n, "--stripe-key-file", str(key), "--stripe-api-base", stripe_invoicing.url]) == 0
    assert "pushed to Stripe as in_" in capsys.readouterr().out
    [remote] = stripe_invoicing.books(account).invoices.values()
    assert remote["total"] == 10_600  # 120,000 / 12 = 10,000 + VAT 600
