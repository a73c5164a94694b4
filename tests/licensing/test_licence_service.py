"""Installing, revoking and reporting licences: verified before storing, history kept, audited,
the process's cache refreshed at once; limits exceeded show as overage; the demo's licence."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from sqlmodel import select

from guahao.core.audit import Actor
from guahao.core.models.audit import AuditEntry
from guahao.core.runtime import Runtime
from guahao.licensing.demo import seed_demo
from guahao.licensing.ledger.append import Usage, append
from guahao.licensing.licences import cache
from guahao.licensing.licences.banner import staff_banner
from guahao.licensing.licences.document import LicenceDocument, LicenceRefused, Limits
from guahao.licensing.licences.keys import new_key_pair
from guahao.licensing.licences.models import InstalledLicence
from guahao.licensing.licences.service import (
    LicenceNotFound,
    install_licence,
    licence_history,
    licence_status,
    revoke_licence,
)
from guahao.licensing.licences.signing import sign
from guahao.licensing.licences.states import local_today
from guahao.plugin_api import city_session
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.factories import make_city

VENDOR = new_key_pair()
STRANGER = new_key_pair()
VENDOR_STAFF = Actor("vendor", 7, "厂商 运维", "vendor")


@pytest.fixture(scope="module")
async def rt(settings):
    runtime = Runtime(dataclasses.replace(settings, licence_public_keys=(VENDOR.public_paserk,)))
    await runtime.start()
    yield runtime
    await runtime.stop()


def _doc(city, days_from: int = -10, days_until: int = 100, **kw) -> LicenceDocument:
    today = local_today(utcnow(), city.tz)
    kw.setdefault("operator", "测试运营方")
    return LicenceDocument(city=city.slug, valid_from=today + timedelta(days=days_from),
                           valid_until=today + timedelta(days=days_until), **kw)


async def _rows(rt, city) -> list[InstalledLicence]:
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(InstalledLicence).order_by(InstalledLicence.id))).all())


async def _audit(rt, city) -> list[tuple[str, str]]:
    with use_city(city):
        async with rt.db.transaction() as s:
            rows = (await s.scalars(select(AuditEntry).where(AuditEntry.action.startswith("licence."))
                                    .order_by(AuditEntry.id))).all()
            return [(r.action, r.target_id) for r in rows]


async def test_install_verifies_stores_audits_and_counts_at_once(rt, city):
    assert (await licence_status(rt, city, with_usage=False))["state"] == "unlicensed"  # loaded and cached
    outcome = await install_licence(rt, city, sign(_doc(city, model="rental"), VENDOR.private_pem), actor=VENDOR_STAFF)
    lid = outcome.licence.document.licence_id
    assert outcome.added and outcome.state.state == "valid"
    status = await licence_status(rt, city)  # no wait for the refresh: this process knows at once
    assert status["state"] == "valid" and status["licence_id"] == lid and status["issuer_key_id"] == VENDOR.key_id
    assert status["days_left"] == 101 and status["operator"] == "测试运营方" and status["model"] == "rental"
    assert status["overage"] == [] and status["usage"]["hospitals"] == 0
    [row] = await _rows(rt, city)
    assert row.licence_id == lid and row.installed_by == "厂商 运维" and row.revoked_at is None
    assert await _audit(rt, city) == [("licence.install", lid)]

    again = await install_licence(rt, city, outcome.licence.token)  # the same licence: nothing changes
    assert not again.added and len(await _rows(rt, city)) == 1 and len(await _audit(rt, city)) == 1


@pytest.mark.parametrize("case", ["tampered", "foreign", "other_city", "expired", "garbage"])
async def test_a_bad_licence_is_refused_and_nothing_is_stored(rt, city, case):
    token = sign(_doc(city), VENDOR.private_pem)
    if case == "tampered":
        head, body = token[:40], token[40:]
        token = head + ("A" if body[0] != "A" else "B") + body[1:]
    elif case == "foreign":
        token = sign(_doc(city), STRANGER.private_pem)
    elif case == "other_city":
        token = sign(dataclasses.replace(_doc(city), city="elsewhere"), VENDOR.private_pem)
    elif case == "expired":
        token = sign(_doc(city, days_from=-400, days_until=-31, grace_days=30), VENDOR.private_pem)
    else:
        token = "not a licence at all"
    with pytest.raises(LicenceRefused) as refused:
        await install_licence(rt, city, token)
    expected = {"tampered": "licence_tampered", "foreign": "licence_foreign_key", "other_city": "licence_wrong_city",
                "expired": "licence_expired", "garbage": "licence_malformed"}[case]
    assert refused.value.code == expected and refused.value.message and refused.value.message_en
    assert await _rows(rt, city) == [] and await _audit(rt, city) == []


async def test_grace_today_may_still_be_installed(rt, city):
    outcome = await install_licence(rt, city, sign(_doc(city, days_from=-400, days_until=-30, grace_days=30),
                                                   VENDOR.private_pem))
    assert outcome.state.state == "grace" and outcome.state.grace_days_left == 1


async def test_revoking_withdraws_keeps_history_and_cannot_be_undone_by_reinstalling(rt, city):
    first = await install_licence(rt, city, sign(_doc(city), VENDOR.private_pem))
    second = await install_licence(rt, city, sign(_doc(city, days_until=300), VENDOR.private_pem))
    assert (await licence_status(rt, city, with_usage=False))["licence_id"] == second.licence.document.licence_id

    # One licence withdrawn: the newest remaining one counts.
    assert await revoke_licence(rt, city, actor=VENDOR_STAFF, licence_id=second.licence.document.licence_id,
                                reason="签错了") == [second.licence.document.licence_id]
    assert (await licence_status(rt, city, with_usage=False))["licence_id"] == first.licence.document.licence_id
    # All withdrawn: as if the city had none.
    assert await revoke_licence(rt, city, reason="合同终止") == [first.licence.document.licence_id]
    status = await licence_status(rt, city, with_usage=False)
    assert status["state"] == "unlicensed" and status["licence_id"] is None
    with pytest.raises(LicenceNotFound):
        await revoke_licence(rt, city)

    history = await licence_history(rt, city)
    assert [h["licence_id"] for h in history] == [second.licence.document.licence_id, first.licence.document.licence_id]
    assert all(h["revoked_at"] for h in history) and history[0]["revoke_reason"] == "签错了"
    assert [a for a, _ in await _audit(rt, city)] == ["licence.install", "licence.install", "licence.revoke",
                                                     "licence.revoke"]
    with pytest.raises(LicenceRefused) as refused:
        await install_licence(rt, city, second.licence.token)
    assert refused.value.code == "licence_revoked"


async def test_a_stored_licence_that_no_longer_verifies_is_not_used(rt, settings, city):
    await install_licence(rt, city, sign(_doc(city), VENDOR.private_pem))
    # The platform stops trusting the key that signed it (the key was rotated out).
    rotated = Runtime(dataclasses.replace(settings, licence_public_keys=(STRANGER.public_paserk,), environment="production"))
    try:
        status = await licence_status(rotated, city, with_usage=False)
    finally:
        await rotated.stop()
    assert status["state"] == "unlicensed" and status["licence_id"] is None
    assert len(status["problems"]) == 1 and "does not trust" in next(iter(status["problems"].values()))


async def test_limits_exceeded_are_overage_shown_to_staff_and_never_refuse(rt, city, catalogue):
    await install_licence(rt, city, sign(_doc(city, limits=Limits(max_hospitals=0, max_bookings_per_month=1,
                                                                   channels=("web",))), VENDOR.private_pem))
    now = utcnow()
    async with city_session(rt, city) as s:
        await append(s, [Usage("booking.confirmed", 1, f"booking.confirmed:x{i}", now, {"channel": ch})
                         for i, ch in enumerate(["web", "kiosk", "phone"])])
    status = await licence_status(rt, city)
    assert status["state"] == "valid" and status["bookings_allowed"]
    assert status["usage"]["bookings_this_month"] == 3 and status["usage"]["hospitals"] == 1
    assert {o["limit"]: (o["allowed"], o["used"], o["over"]) for o in status["overage"]} == {
        "max_hospitals": (0, 1, 1), "max_bookings_per_month": (1, 3, 2),
        "channels": (["web"], ["kiosk", "phone", "web"], ["kiosk", "phone"]),
    }
    banner = await staff_banner(rt, city)
    assert banner is not None and banner.zh == "" and "医院 1/0" in banner.overage_zh and "本月预约 3/1" in banner.overage_zh
    assert "kiosk" in banner.overage_en


async def test_the_staff_banner_follows_the_state(rt, city):
    assert (await staff_banner(rt, city)).state == "unlicensed"
    today = local_today(utcnow(), city.tz)
    doc = _doc(city, days_from=-300, days_until=-5)
    await install_licence(rt, city, sign(doc, VENDOR.private_pem))
    banner = await staff_banner(rt, city)
    assert banner.state == "grace" and f"宽限期还剩 26 天（至 {doc.grace_until}）" in banner.zh
    await install_licence(rt, city, sign(_doc(city, days_until=400), VENDOR.private_pem))
    assert await staff_banner(rt, city) is None
    with frozen(utcnow() + timedelta(days=390)):
        assert (await staff_banner(rt, city)).state == "expiring"
    assert (await licence_status(rt, city, with_usage=False))["valid_until"] == (today + timedelta(days=400)).isoformat()


async def test_concurrent_first_uses_share_one_load(rt, city, monkeypatch):
    loads = []
    real = cache._load

    async def counted(*args):
        loads.append(1)
        await asyncio.sleep(0.01)
        return await real(*args)

    monkeypatch.setattr(cache, "_load", counted)
    cache.forget(rt, city.id)
    results = await asyncio.gather(*(cache.city_licences(rt, city) for _ in range(20)))
    assert len(loads) == 1 and all(r is results[0] for r in results)


async def test_the_cache_is_refreshed_after_its_time(rt, city, monkeypatch):
    await cache.city_licences(rt, city)
    # Another process installs a licence: this one sees it once its cache is older than the refresh time.
    other = Runtime(rt.settings)
    try:
        await install_licence(other, city, sign(_doc(city), VENDOR.private_pem))
    finally:
        await other.stop()
    assert (await licence_status(rt, city, with_usage=False))["state"] == "unlicensed"
    monkeypatch.setattr(cache, "REFRESH_SECONDS", 0.0)
    assert (await licence_status(rt, city, with_usage=False))["state"] == "valid"


async def test_the_demo_city_gets_a_year_of_demo_licence_in_the_embedded_demo_only(rt, settings, city):
    demo = await make_city(rt, city.slug + "-demo")
    embedded = Runtime(dataclasses.replace(settings, environment="", redis_url=""))
    try:
        with use_city(demo):
            await seed_demo(embedded, demo)
        status = await licence_status(embedded, demo, with_usage=False)
    finally:
        await embedded.stop()
    if settings.production:  # PostgreSQL is production: the demo key is not trusted, nothing installed
        assert status["state"] == "unlicensed" and await _rows(rt, demo) == []
        return
    today = local_today(utcnow(), demo.tz)
    assert status["state"] == "valid" and status["valid_from"] == today.isoformat()
    assert 365 <= status["days_left"] <= 366 and status["operator"] == "示例市卫生健康委员会"
    # A server that is not the embedded demo does not trust the demo key.
    strict = Runtime(dataclasses.replace(settings, environment="production"))
    try:
        assert (await licence_status(strict, demo, with_usage=False))["state"] == "unlicensed"
    finally:
        await strict.stop()
