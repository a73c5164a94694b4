"""Logging in with a one-time code sent by text message (R1.2)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from guahao.core.errors import DomainError
from guahao.core.jobs import process_outbox_message
from guahao.core.models import Member, Notification, OutboxMessage
from guahao.plugins.channels.web.otp import DAILY_MAX, LoginCodes, MemoryCodeStore
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city

from .conftest import csrf_of

PHONE = "13800138000"


async def _code_messages(rt, city) -> list[OutboxMessage]:
    with use_city(city):
        async with rt.db.transaction() as s:
            rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify"))).all()
    return [r for r in rows if (r.payload or {}).get("kind") == "login_code"]


async def _deliver_code(rt, city) -> str:
    """Run the newest code message through the outbox and read the code from the message log."""
    message = (await _code_messages(rt, city))[-1]
    assert await process_outbox_message(rt, message.id) == "done"
    with use_city(city):
        async with rt.db.transaction() as s:
            note = await s.scalar(select(Notification).where(Notification.kind == "login_code")
                                  .order_by(Notification.id.desc()).limit(1))
    assert note.status == "sent" and note.recipient == PHONE
    return re.search(r"验证码为(\d{6})", note.body).group(1)


async def _send(visitor, phone=PHONE):
    return await visitor.post("login/code", {"phone": phone, "action": "send"})


async def _verify(visitor, code, phone=PHONE):
    return await visitor.post("login/code", {"phone": phone, "action": "verify", "code": code})


async def test_code_login_sends_verifies_once_and_logs_in(visitor, rt, city):
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    login_page = await visitor.get("login")
    assert 'href="/c/' in login_page.text and "login/code" in login_page.text

    sent = await _send(visitor)
    assert sent.status_code == 200 and 'id="notice"' in sent.text and 'id="code"' in sent.text
    (message,) = await _code_messages(rt, city)
    code = await _deliver_code(rt, city)
    # The code is in the message only: the outbox keeps it encrypted.
    assert code not in str(message.payload) and message.payload["data"]["sealed_code"]

    wrong = await _verify(visitor, "000000" if code != "000000" else "111111")
    assert wrong.status_code == 401 and 'id="error"' in wrong.text
    ok = await _verify(visitor, code)
    assert ok.status_code == 303
    home = await visitor.get()
    assert 'id="member-name"' in home.text

    await visitor.post("logout", {}, form_page="")
    again = await _verify(visitor, code)  # a code works once
    assert again.status_code == 401


async def test_unknown_phone_gets_the_same_answer_and_nothing_is_sent(visitor, rt, city):
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    known = await _send(visitor)
    unknown = await _send(visitor, "13900139000")
    assert known.status_code == unknown.status_code == 200

    def strip(html: str) -> str:
        return re.sub(r'value="[^"]*"', "", html)

    assert strip(known.text) == strip(unknown.text)
    assert len(await _code_messages(rt, city)) == 1
    assert (await _verify(visitor, "123456", "13900139000")).status_code == 401


async def test_code_expires_after_five_minutes(visitor, rt, city):
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    start = utcnow()
    with frozen(start):
        await _send(visitor)
    code = await _deliver_code(rt, city)
    if rt.redis is None:  # the in-process store follows the frozen clock
        with frozen(start + timedelta(minutes=5, seconds=1)):
            assert (await _verify(visitor, code)).status_code == 401
    else:  # Redis expires keys on its own clock: drop the code as its TTL would
        codes = LoginCodes()
        with use_city(city):
            await codes.store(rt).delete(codes._key(PHONE, "code"))
        assert (await _verify(visitor, code)).status_code == 401


async def test_five_wrong_codes_burn_the_code(visitor, rt, city):
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    await _send(visitor)
    code = await _deliver_code(rt, city)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert (await _verify(visitor, wrong)).status_code == 401
    refused = await _verify(visitor, code)
    assert refused.status_code == 429 and 'id="error"' in refused.text


async def test_one_code_a_minute_and_ten_a_day(visitor, rt, city):
    await visitor.register()
    await visitor.post("logout", {}, form_page="")
    assert (await _send(visitor)).status_code == 200
    too_soon = await _send(visitor)
    assert too_soon.status_code == 429 and 'id="error"' in too_soon.text
    assert len(await _code_messages(rt, city)) == 1


async def test_daily_limit_and_hashed_storage(city, rt):
    """The store holds only a keyed hash; the eleventh code of a day is refused."""

    class Rt:
        redis = None
        db = rt.db

    codes = LoginCodes(MemoryCodeStore())
    start = utcnow()
    with use_city(city):
        for i in range(DAILY_MAX):
            with frozen(start + timedelta(minutes=2 * i)):
                await codes.send(Rt, PHONE, None)
        with frozen(start + timedelta(minutes=2 * DAILY_MAX)):
            with pytest.raises(DomainError) as refused:
                await codes.send(Rt, PHONE, None)
            assert refused.value.code == "code_daily_limit"
        with frozen(start + timedelta(days=1, minutes=1)):
            await codes.send(Rt, PHONE, None)  # a new day
    assert not any("code" == k.rsplit(":", 1)[1] for k in codes.memory._items)  # nobody: no code kept


async def test_stored_code_is_a_keyed_hash(city, rt, visitor):
    await visitor.register()
    codes = LoginCodes(MemoryCodeStore())

    class Rt:
        redis = None
        db = rt.db

    with use_city(city):
        async with rt.db.transaction() as s:
            member = await s.scalar(select(Member))
        await codes.send(Rt, PHONE, member.id)
        (stored,) = [v for k, (v, _) in codes.memory._items.items() if k.endswith(":code")]
    code = await _deliver_code(rt, city)
    assert code not in stored and len(stored) == 64
    with use_city(city):
        assert await codes.verify(Rt, PHONE, code)


async def test_code_form_rejects_a_bad_phone(visitor):
    page = await visitor.get("login/code")
    r = await visitor.client.post(visitor.root + "login/code",
                                  data={"csrf": csrf_of(page.text), "phone": "12345", "action": "send"})
    assert r.status_code == 422 and 'id="error"' in r.text
