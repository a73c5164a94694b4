"""What people read for the booking domain's codes (``core.booking.labels``): every status, pool
and cancel reason the code writes has a zh-CN and an English label, and no surface shows a code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from guahao.core import notifications
from guahao.core.audit import Actor
from guahao.core.backoffice import pools
from guahao.core.booking import engine, labels
from guahao.core.models import AuditEntry, BookingStatus, Member, PoolKind, WaitlistStatus
from guahao.core.notifications.templates import message_params
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, outbox, reserve
from tests.factories import make_catalogue

ROOT = Path(labels.__file__).resolve().parents[2]
SOURCES = [p for folder in ("core", "plugins", "operator_console") for p in (ROOT / folder).rglob("*.py")]
CANCEL_CALL = re.compile(r"\b(?:engine\.cancel|cancel_booking|cancel_for_caller)\(")
HAN = re.compile(r"[\u4e00-\u9fff]")


def _call_text(text: str, start: int) -> str:
    """The argument text of the call whose ``(`` ends at ``start``."""
    depth, i = 1, start
    while depth and i < len(text):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        i += 1
    return text[start:i]


def written_cancel_reasons() -> set[str]:
    """Every literal cancel reason code passed to the engine's cancel (or the services over it)."""
    found = set()
    for path in SOURCES:
        text = path.read_text()
        for call in CANCEL_CALL.finditer(text):
            for expr in re.findall(r"\breason=([^,\n)]+(?:\([^)]*\))?[^,\n)]*)", _call_text(text, call.end())):
                found.update(c for c in re.findall(r'"([^"]+)"', expr) if labels.is_code(c))
    return found


def test_the_reason_codes_the_code_writes_are_found():
    assert {"member", "session_suspended", "session_moved", "phone_cancel", "phone_move"} <= written_cancel_reasons()


@pytest.mark.parametrize("reader", labels.READERS)
@pytest.mark.parametrize("lang", labels.LANGS)
def test_every_status_pool_and_reason_has_a_label_in_both_languages(lang, reader):
    cases = (
        [(labels.status_label, s.value) for s in BookingStatus]
        + [(labels.waitlist_label, s.value) for s in WaitlistStatus]
        + [(labels.pool_label, p.value) for p in PoolKind]
        + [(labels.reason_label, r) for r in sorted(written_cancel_reasons() | set(labels.REASON))]
    )
    for label, code in cases:
        text = label(code, lang, reader=reader)
        assert text and text != code and (lang == "en" or code not in text), (label.__name__, code)
        assert bool(HAN.search(text)) == (lang == "zh-CN"), (label.__name__, code, text)
    assert set(labels.STATUS) == {s.value for s in BookingStatus} and set(labels.POOL) == {p.value for p in PoolKind}


def test_patient_and_staff_wording():
    assert labels.reason_label("member") == "您本人取消"
    assert labels.reason_label("member", reader="staff") == "患者本人取消"
    assert labels.reason_label("session_suspended") == labels.reason_label("session_suspended", reader="staff") == "医院停诊"
    assert labels.reason_label("member", "en", reader="staff") == "Cancelled by the patient"
    assert labels.reason_label("来电取消", reader="staff") == "患者来电取消"  # stored as words before it was a code
    assert labels.pool_label("onsite") == "现场号源" and labels.pool_label("referral", "en") == "Referral"
    assert labels.status_label("offered", reader="staff") == "候补号源待患者确认"


def test_unknown_codes_read_as_a_neutral_phrase_and_a_persons_words_as_written():
    assert labels.reason_label("refunded_at_hospital") == "其他原因"
    assert labels.reason_label("no_such_code", "en") == "Other reason"
    assert labels.status_label("frozen") == "状态未知" and labels.pool_label("vip", "en") == "Other pool"
    assert labels.reason_label("  行程有变 ") == "行程有变" and labels.reason_label("Change of plans", "en") == "Change of plans"
    assert labels.reason_label("") == labels.reason_label(None) == ""


def test_refusals_for_staff_speak_of_the_patient():
    text = labels.refusal_text("too_many_active", {"limit": 3, "active": 3})
    assert text == "该患者已有 3 个有效预约，已达上限 3 个；请先取消其中一个或待就诊后再预约。"
    assert "我的预约" not in labels.refusal_text("duplicate_session", {"session_id": 1})
    assert labels.refusal_text("too_many_active", None).startswith("该患者的有效预约已达上限")
    assert labels.refusal_text("too_many_active", {"limit": 3, "active": 3}, "en").startswith("The patient already has 3")
    assert labels.refusal_text("slot_full", reader="patient") is None and labels.refusal_text("csrf") is None


async def test_the_cancellation_sms_states_the_reason_in_words(rt, city):
    cat = await make_catalogue(rt, city)
    made = await reserve(rt, city, await make_member(rt, city, name="赵小明"), cat.periods[cat.sessions[0].id][0].id)
    with use_city(city):
        async with rt.db.transaction() as s:
            await engine.cancel(s, made.id, reason="member")
        [msg] = [m for m in await outbox(rt, city, made.id, "notify") if m.payload["kind"] == "booking_cancelled"]
        async with rt.db.transaction() as s:
            member = await s.get(Member, made.member_id)
            facts = await notifications.load_facts(s, made.id)
        data = msg.payload["data"]
        text = notifications.compose(city, "booking_cancelled", member, facts, data)
        params = message_params(city, "booking_cancelled", member, facts, data)
    assert "原因：您本人取消" in text and "member" not in text
    assert params["reason"] == "您本人取消"


async def test_releasing_the_onsite_pool_is_audited_in_words(rt, city, scheduler):
    cat = await make_catalogue(rt, city)
    period = cat.periods[cat.sessions[0].id][0]
    with use_city(city):
        await pools.set_capacities(rt, period.id, {"onsite": 2}, actor=scheduler)
        assert await pools.release_to_public(rt, period.id, "onsite", actor=scheduler) == 2
        async with rt.db.transaction() as s:
            [entry] = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "pool.release"))).all()
    assert entry.summary == "释放现场号源 2 个到公开号源" and entry.after["pool"] == "onsite"


@pytest.fixture
def scheduler():
    return Actor("staff", 7, name="排班员小李", role="hospital_scheduler")
