"""The WeChat Pay client's outcomes as data: temporary and permanent errors, timeouts, answers
that do not verify, and no secret in any error text."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from guahao.core.plugins.http import TransportError
from guahao.plugins.payments.wechatpay.client import WeChatPayClient
from tests.fakes.wechatpay import FakeWeChatPay

from .conftest import enable_wechatpay


def client_for(pc, transport=None, **settings) -> WeChatPayClient:
    return WeChatPayClient(pc.merchant.settings(pc.fake.url, **settings), pc.merchant.secrets(), transport=transport)


def no_secret_in(pc, error: TransportError) -> None:
    text = str(error)
    for secret in pc.merchant.secrets().values():
        for line in secret.splitlines():
            if len(line) > 20:
                assert line not in text


async def query(api: WeChatPayClient, no: str = "NOPE_N"):
    return await api.json("GET", f"/v3/pay/transactions/out-trade-no/{no}", query={"mchid": api.mchid})


async def test_temporary_and_permanent_refusals(pay_city):
    pc = pay_city
    async with client_for(pc) as api:
        with pytest.raises(TransportError) as missing:
            await query(api)
        pc.merchant.fail_next = 1
        with pytest.raises(TransportError) as down:
            await query(api)
    assert (missing.value.code, missing.value.status, missing.value.permanent) == ("ORDER_NOT_EXIST", 404, True)
    assert (down.value.code, down.value.status, down.value.permanent) == ("SYSTEM_ERROR", 500, False)
    async with client_for(pc, cert_serial_no="0123456789ABCDEF") as api:
        with pytest.raises(TransportError) as refused:
            await query(api)
    assert (refused.value.code, refused.value.status, refused.value.permanent) == ("SIGN_ERROR", 401, True)
    for error in (missing.value, down.value, refused.value):
        no_secret_in(pc, error)


async def test_a_timeout_is_temporary(pay_city):
    pc = pay_city

    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    async with client_for(pc, httpx.MockTransport(hang), timeout=1.5) as api:
        with pytest.raises(TransportError) as err:
            await query(api)
    assert err.value.code == "timeout" and not err.value.permanent
    no_secret_in(pc, err.value)


async def test_an_answer_signed_by_someone_else_is_not_an_answer(pay_city):
    pc = pay_city
    # A server that accepts our signature but signs with a key that is not WeChat Pay's.
    impostor = FakeWeChatPay()
    other = impostor.add_merchant()
    other.mchid, other.serial_no, other.public_key = pc.merchant.mchid, pc.merchant.serial_no, pc.merchant.public_key
    other.public_key_id = pc.merchant.public_key_id
    impostor.merchants = {other.mchid: other}
    other.orders["X_N"] = {"request": {"amount": {"total": 1}}, "trade_type": "NATIVE", "trade_state": "NOTPAY",
                           "transaction_id": "", "success_time": ""}
    async with client_for(pc, httpx.ASGITransport(app=impostor.app)) as api:
        with pytest.raises(TransportError) as err:
            await query(api, "X_N")
    assert err.value.code == "bad_signature" and not err.value.permanent and err.value.status == 200


async def test_the_same_notification_twice_at_once_acts_once(client, pay_city):
    pc = pay_city
    booking = await pc.held_booking()
    intent = await pc.start(booking)
    body, headers = pc.fake.pay(pc.merchant.mchid, intent.reference)
    first, second = await asyncio.gather(pc.deliver(client, body, headers), pc.deliver(client, body, headers))
    assert sorted([first.json()["outcome"], second.json()["outcome"]]) == ["confirmed", "duplicate"]
    assert (await pc.kinds(booking.id)).count("paid") == 1
    assert len(await pc.notifications()) == 1


async def test_enabling_without_valid_keys_is_refused(rt, pay_city, wechatpay_api):
    from guahao.core.plugins.settings import SettingsInvalid

    pc = pay_city
    with pytest.raises(SettingsInvalid):
        await enable_wechatpay(rt, pc.city, wechatpay_api, pc.merchant, mchid="not-digits")
