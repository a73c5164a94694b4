"""``guahao invoice …`` end to end: run, list, show --json, finalize, pay, void, html, pdf, seller."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest

from guahao.core.cli import main
from guahao.core.runtime import Runtime
from guahao.licensing.ledger.append import Usage, append
from guahao.plugin_api import city_session
from guahao.tenants.service import get_city


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUAHAO_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("GUAHAO_VAT_PERCENT", "6")
    monkeypatch.delenv("DATABASE_APP_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    slug = f"inv{uuid.uuid4().hex[:8]}"
    assert main(["city", "create", slug, "账单市"]) == 0
    assert main(["contract", "set", slug, "--model", "rental", "--from", "2026-11-16", "--licence-fen-per-year",
                 "1200000", "--included-bookings", "2", "--overage-booking-fen", "150"]) == 0

    async def feed():
        rt = Runtime(settings)
        try:
            city = await get_city(rt.db, slug)
            async with city_session(rt, city) as s:
                await append(s, [Usage("booking.confirmed", 1, f"booking.confirmed:{i}", datetime(2026, 11, 20, i, tzinfo=UTC))
                                 for i in range(4)])
        finally:
            await rt.stop()

    asyncio.run(feed())
    return slug


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_invoice_commands_from_run_to_void(env, capsys, tmp_path):
    slug = env
    capsys.readouterr()
    assert main(["invoice", "run", "--period", "2026-11", "--city", slug, "--json"]) == 0
    [outcome] = _json(capsys)
    # 15 of 30 days: 1,200,000 / 12 × 15/30 = 50,000; allowance 2 × 15/30 = 1, 4 bookings: 3 × 150 = 450;
    # subtotal 50,450, VAT 6 % = 3,027 → total 53,477
    assert outcome["outcome"] == "drafted" and outcome["total_fen"] == 53_477
    n = str(outcome["invoice_id"])
    assert main(["invoice", "show", n, "--json"]) == 0
    shown = _json(capsys)
    assert [(x["code"], x["amount_fen"]) for x in shown["lines"]] == [("rental.licence", 50_000),
                                                                      ("rental.overage.bookings", 450)]
    assert shown["lines"][1]["ledger"]["rows"] == 4 and shown["status"] == "draft" and shown["city"] == slug
    assert main(["invoice", "show", n]) == 0
    assert "534.77" in capsys.readouterr().out
    assert main(["invoice", "finalize", n]) == 0
    assert "finalized as GH-" in capsys.readouterr().out
    assert main(["invoice", "finalize", n]) == 1
    err = capsys.readouterr().err
    assert "cannot be finalized" in err and err.count("\n") == 1
    assert main(["invoice", "list", "--city", slug, "--json"]) == 0
    assert [(r["id"], r["status"]) for r in _json(capsys)] == [(int(n), "finalized")]
    html, pdf = tmp_path / "i.html", tmp_path / "i.pdf"
    assert main(["invoice", "html", n, "--out", str(html)]) == 0
    assert main(["invoice", "pdf", n, "--out", str(pdf)]) == 0
    assert "534.77" in html.read_text() and pdf.read_bytes().startswith(b"%PDF-")
    assert main(["invoice", "pay", n, "--reference", "转账 1"]) == 0
    assert "marked paid" in capsys.readouterr().out
    assert main(["invoice", "void", n, "--reason", "重开"]) == 0
    assert "credit note" in capsys.readouterr().out
    assert main(["invoice", "list", "--city", slug]) == 0
    listed = capsys.readouterr().out
    assert "voided" in listed and "credit_note" in listed and "GHCN-" in listed


def test_invoice_command_mistakes_are_one_line(env, capsys):
    capsys.readouterr()
    for argv, words in (
        (["invoice", "show", "999999999"], "invoice 999999999 not found"),
        (["invoice", "run", "--period", "2026-13"], "2026-11"),
        (["invoice", "run", "--period", "2026-11", "--city", "nowhere"], "no city 'nowhere'"),
        (["invoice", "void", "999999999", "--reason", "x"], "not found"),
    ):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_seller_is_set_and_printed(env, capsys):
    capsys.readouterr()
    assert main(["invoice", "seller", "--name", "某某信息技术有限公司", "--tax-id", "91330100MA2XXXX"]) == 0
    assert _json(capsys)["tax_id"] == "91330100MA2XXXX"
    assert main(["invoice", "run", "--period", "2026-11", "--city", env, "--json"]) == 0
    n = str(_json(capsys)[0]["invoice_id"])
    assert main(["invoice", "show", n, "--json"]) == 0
    assert _json(capsys)["seller"]["name"] == "某某信息技术有限公司"
