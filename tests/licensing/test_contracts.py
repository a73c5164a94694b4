"""Contracts: versions per city, the version in force on a day, validation, audit, the CLI."""

import json
import uuid
from datetime import date

import pytest
from sqlalchemy import select

from guahao.core.audit import Actor
from guahao.core.cli import main
from guahao.core.errors import Conflict, ValidationFailed
from guahao.core.models.audit import AuditEntry
from guahao.licensing.contracts.service import (
    contract_history,
    contract_in_force,
    contract_summary,
    declare_profit,
    declared_profit,
    set_contract,
)
from guahao.licensing.contracts.terms import TermsInvalid, parse_terms
from guahao.plugin_api import city_session

VENDOR = Actor("vendor", 7, name="厂商管理员")


async def test_amendments_are_new_versions_and_the_latest_effective_one_is_in_force(rt, city):
    async with city_session(rt, city) as s:
        await set_contract(s, VENDOR, model="revenue_share", effective_from=date(2026, 1, 1),
                           terms={"percent": "8", "minimum_fen": 500000})
        await set_contract(s, VENDOR, model="revenue_share", effective_from=date(2026, 7, 1),
                           terms={"percent": "6.5", "tiers": [{"up_to": 100, "per_booking_fen": 50},
                                                               {"per_booking_fen": 30}]},
                           note="补充协议一")
    async with city_session(rt, city) as s:
        assert await contract_in_force(s, date(2025, 12, 31)) is None
        assert (await contract_in_force(s, date(2026, 6, 30))).version == 1
        v2 = await contract_in_force(s, date(2026, 7, 1))
        assert v2.version == 2 and v2.terms["percent"] == "6.5" and v2.note == "补充协议一"
        assert v2.terms["tiers"] == [{"up_to": 100, "per_booking_fen": 50}, {"per_booking_fen": 30}]
        assert [c.version for c in await contract_history(s)] == [1, 2]
        assert v2.buyer == {"name": city.display_name}  # carried from version 1, which took the city's name
        summary = await contract_summary(s, date(2026, 3, 1))
        assert summary["in_force"]["version"] == 1 and [c["version"] for c in summary["scheduled"]] == [2]
        entries = (await s.scalars(select(AuditEntry).where(AuditEntry.target_type == "contract")
                                   .order_by(AuditEntry.id))).all()
        assert [(e.action, e.actor) for e in entries] == [("contract.set", "vendor:7"), ("contract.amend", "vendor:7")]
        assert entries[1].before["version"] == 1 and entries[1].after["terms"]["percent"] == "6.5"


async def test_same_day_version_replaces_the_earlier_one_and_earlier_dates_are_refused(rt, city):
    async with city_session(rt, city) as s:
        await set_contract(s, VENDOR, model="rental", effective_from=date(2026, 3, 10),
                           terms={"licence_fen_per_year": 1200000})
        await set_contract(s, VENDOR, model="rental", effective_from=date(2026, 3, 10),
                           terms={"licence_fen_per_year": 1500000}, buyer={"name": "某某运营有限公司", "tax_id": "9133"})
        with pytest.raises(Conflict) as err:
            await set_contract(s, VENDOR, model="rental", effective_from=date(2026, 3, 9),
                               terms={"licence_fen_per_year": 1})
        assert err.value.code == "contract_date_too_early"
    async with city_session(rt, city) as s:
        current = await contract_in_force(s, date(2026, 3, 10))
        assert current.version == 2 and current.terms["licence_fen_per_year"] == 1500000
        assert current.buyer == {"name": "某某运营有限公司", "tax_id": "9133"}


@pytest.mark.parametrize(
    "model, terms, words",
    [
        ("revenue_share", {}, "needs a percent, a per-booking fee or tiers"),
        ("revenue_share", {"percent": "101"}, "percent"),
        ("revenue_share", {"per_booking_fen": 10, "tiers": [{"per_booking_fen": 5}]}, "one or the other"),
        ("revenue_share", {"tiers": [{"up_to": 10, "per_booking_fen": 5}]}, "last tier must be open-ended"),
        ("revenue_share", {"tiers": [{"up_to": 10, "per_booking_fen": 5}, {"up_to": 5, "per_booking_fen": 4},
                                     {"per_booking_fen": 3}]}, "rise strictly"),
        ("revenue_share", {"percent": "5", "licence_fen_per_year": 1}, "does not apply to a revenue_share contract"),
        ("rental", {"maintenance_fen_per_year": -1}, "greater than or equal to 0"),
        ("rental", {"licence_fen_per_year": 1, "overage_sms_fen": 5}, "needs included_sms_per_month"),
        ("rental", {"licence_fen_per_year": 1, "billing": "weekly"}, "billing"),
        ("profit_share", {}, "percent"),
        ("barter", {}, "not one of"),
    ],
)
def test_terms_are_validated_per_model(model, terms, words):
    with pytest.raises(TermsInvalid, match=words):
        parse_terms(model, terms)


async def test_invalid_terms_are_a_validation_error_with_a_code(rt, city):
    async with city_session(rt, city) as s:
        with pytest.raises(ValidationFailed) as err:
            await set_contract(s, VENDOR, model="rental", effective_from=date(2026, 1, 1), terms={})
        assert err.value.code == "contract_terms_invalid" and "合同条款有误" in err.value.message


async def test_profit_declarations_are_kept_per_month_and_audited(rt, city):
    async with city_session(rt, city) as s:
        await declare_profit(s, VENDOR, period="2026-11", profit_fen=1_000_000)
        await declare_profit(s, VENDOR, period="2026-11", profit_fen=900_000, note="更正")
        with pytest.raises(ValidationFailed):
            await declare_profit(s, VENDOR, period="2026-13", profit_fen=1)
    async with city_session(rt, city) as s:
        row = await declared_profit(s, "2026-11")
        assert (row.profit_fen, row.note) == (900_000, "更正")
        entries = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "contract.profit"))).all()
        assert [e.after["profit_fen"] for e in entries] == [1_000_000, 900_000]


# --- the commands ---------------------------------------------------------------------------


@pytest.fixture
def env(settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GUAHAO_SECRET_KEY", settings.secret_key)
    monkeypatch.delenv("DATABASE_APP_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    slug = f"ct{uuid.uuid4().hex[:8]}"
    assert main(["city", "create", slug, "合同市"]) == 0
    return slug


def test_contract_set_show_and_profit_commands(env, capsys):
    slug = env
    assert main(["contract", "set", slug, "--model", "revenue_share", "--from", "2026-01-01", "--percent", "8",
                 "--minimum-fen", "500000", "--buyer-name", "合同市预约挂号运营有限公司"]) == 0
    assert "version 1" in capsys.readouterr().out
    assert main(["contract", "set", slug, "--model", "revenue_share", "--from", "2026-07-01", "--percent", "8",
                 "--tier", "1000:50", "--tier", "*:30", "--note", "补充协议"]) == 0
    capsys.readouterr()
    assert main(["contract", "show", slug, "--json", "--on", "2026-08-01"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["in_force"]["version"] == 2
    assert shown["in_force"]["terms"] == {"percent": "8", "tiers": [{"up_to": 1000, "per_booking_fen": 50},
                                                                    {"per_booking_fen": 30}]}
    assert shown["in_force"]["buyer"]["name"] == "合同市预约挂号运营有限公司"
    assert [v["effective_from"] for v in shown["history"]] == ["2026-01-01", "2026-07-01"]
    assert main(["contract", "profit", slug, "--period", "2026-11", "--profit-fen", "123456"]) == 0
    assert "123456 fen" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--model", "rental", "--from", "2026-01-01", "--percent", "5"], "does not apply to a rental contract"),
        (["--model", "revenue_share", "--from", "1 May", "--percent", "5"], "--from '1 May' is not a date"),
        (["--model", "revenue_share", "--from", "2026-01-01", "--percent", "five"], "--percent 'five'"),
        (["--model", "revenue_share", "--from", "2026-01-01", "--tier", "10-50"], "--tier '10-50'"),
        (["--model", "rental", "--from", "2026-01-01", "--licence-fen-per-year", "1000", "--overage-sms-fen", "3"],
         "needs included_sms_per_month"),
    ],
)
def test_bad_contract_input_is_one_line_and_exit_1(env, capsys, argv, words):
    assert main(["contract", "set", env, *argv]) == 1
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_unknown_city_and_bad_period(env, capsys):
    assert main(["contract", "show", "no-such-city"]) == 1
    assert "no city 'no-such-city'" in capsys.readouterr().err
    assert main(["contract", "profit", env, "--period", "2026/11", "--profit-fen", "1"]) == 1
    assert "2026-11" in capsys.readouterr().err


async def test_the_demo_contract_is_seeded_once(rt, city):
    from guahao.licensing.contracts.demo import seed_demo_contract

    first = await seed_demo_contract(rt, city, actor=VENDOR, since=date(2026, 1, 1))
    assert first.version == 1 and first.model == "revenue_share" and first.terms["percent"] == "8"
    assert await seed_demo_contract(rt, city, actor=VENDOR, since=date(2026, 1, 1)) is None
