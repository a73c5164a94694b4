"""The demo city: realistic counts, a bookable fortnight, determinism, top-up and reset."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from guahao.core.catalogue.schedule import local_to_utc, release_instant
from guahao.core.demo import data, drop_city, seed_demo
from guahao.core.demo.seed import demo_logins
from guahao.core.members.service import authenticate
from guahao.core.models import (
    City,
    ClinicSession,
    Department,
    Doctor,
    Hospital,
    Period,
    RegistrationType,
    SlotPool,
)
from guahao.core.plugins.config import check as config_check
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import platform_scope, use_city
from guahao.tenants.service import enabled_plugins
from tests.conftest import make_settings

NATIONAL_CODE = re.compile(r"\d{2}(\.\d{2})?")


@pytest.fixture(scope="module")
async def demo(rt):
    """The demo city, seeded once for the module (seeding again only tops it up); its past
    months are tested in ``test_history``."""
    return await seed_demo(rt, history_days=0)


async def _scalar(rt, city, stmt):
    with use_city(city):
        async with rt.db.transaction() as s:
            return await s.scalar(stmt)


async def test_catalogue_is_city_sized(rt, demo):
    city = demo.city
    assert (city.slug, city.name, city.timezone) == ("demo", "示例市", "Asia/Shanghai")
    with use_city(city):
        async with rt.db.transaction() as s:
            hospitals = (await s.scalars(select(Hospital))).all()
            codes = set((await s.scalars(select(Department.code).distinct())).all())
            doctors = (await s.scalars(select(Doctor))).all()
            types = (await s.scalars(select(RegistrationType))).all()
    assert len(hospitals) >= 10
    assert {h.kind for h in hospitals} == {"general", "specialty", "community"}
    assert any(h.kind == "general" and (h.level, h.grade) == (3, "甲") for h in hospitals)
    assert all(h.level == 1 for h in hospitals if h.kind == "community")
    assert all(h.payment_mode == "at_hospital" for h in hospitals)
    assert len(codes) >= 15 and all(NATIONAL_CODE.fullmatch(c) for c in codes)
    assert {"03.01", "03.02", "04.03", "07", "10", "12", "50"} <= codes
    assert len(doctors) >= 300
    assert len({d.name for d in doctors}) == len(doctors)
    assert {d.title for d in doctors} == {"chief", "associate_chief", "attending", "resident"}
    assert all(d.specialty and d.introduction.startswith(d.name) for d in doctors)
    fees = {}
    for t in types:
        fees.setdefault(t.code, set()).add(t.fee_fen)
    assert min(fees["expert"]) >= 3000 and all(500 <= f <= 1000 for f in fees["general"])


async def test_fourteen_bookable_days_of_sessions(rt, demo):
    city = demo.city
    today = utcnow().astimezone(city.tz).date()
    now = utcnow()
    with use_city(city):
        async with rt.db.transaction() as s:
            dates = set((await s.scalars(select(ClinicSession.date).distinct())).all())
            half_days = set((await s.scalars(select(ClinicSession.half_day).distinct())).all())
            late_release = await s.scalar(select(func.count()).where(ClinicSession.release_at > now))
            sample = (await s.scalars(select(ClinicSession).order_by(ClinicSession.id).limit(50))).all()
            periods = (
                await s.scalars(select(Period).where(Period.session_id.in_([x.id for x in sample])).order_by(Period.start))
            ).all()
    assert dates == {today + timedelta(days=i) for i in range(14)}
    assert half_days == {"am", "pm", "evening"}
    assert late_release == 0  # everything seeded is open for booking
    by_session: dict[int, list[Period]] = {}
    for p in periods:
        by_session.setdefault(p.session_id, []).append(p)
    for cs in sample:
        ps = by_session[cs.id]
        assert all((p.ends_at - p.starts_at) == timedelta(minutes=30) for p in ps)
        assert all(a.end == b.start for a, b in zip(ps, ps[1:], strict=False))
        assert cs.starts_at == local_to_utc(cs.date, ps[0].start, city.tz) == ps[0].starts_at
        assert cs.ends_at == ps[-1].ends_at
        assert cs.release_at == release_instant(cs.date, city.tz, 14, city.rules.release_time)


async def test_every_period_has_a_public_pool_and_reserved_pools_exist(rt, demo):
    with use_city(demo.city):
        async with rt.db.transaction() as s:
            kinds = set((await s.scalars(select(SlotPool.pool).distinct())).all())
            periods = await s.scalar(select(func.count()).select_from(Period))
            public = await s.scalar(select(func.count()).where(SlotPool.pool == "public", SlotPool.capacity > 0))
            reserved_without_release = await s.scalar(
                select(func.count()).where(SlotPool.pool.in_(["clinic", "referral"]), SlotPool.release_to_public_at.is_(None))
            )
    assert kinds == {"public", "onsite", "clinic", "referral"}
    assert public == periods
    assert reserved_without_release == 0


async def test_rules_plugins_and_members(rt, demo):
    city = demo.city
    assert city.rules.booking_window_days == 14
    assert city.rules.max_active_bookings == 2
    assert city.rules.release_time.strftime("%H:%M") == "07:30"
    plugins = await enabled_plugins(rt.db, city)
    assert set(plugins) == {"pay_at_hospital", "demo_his", "message_log", "web", "ivr", "sms_inbound", "hl7v2"}
    on_hl7 = (await _scalar(rt, city, select(func.count()).select_from(Hospital).where(Hospital.his_adapter == "hl7v2")))
    assert on_hl7 == len(data.HL7V2_HOSPITALS) == 1
    assert plugins["demo_his"]["secrets"]["token"]
    for name, config in plugins.items():  # the demo's settings fit each plugin's declaration
        config_check(rt.plugins, name, config["settings"], enabled=True, stored_secrets=config["secrets"])
    first = await _scalar(rt, city, select(Hospital.id).where(Hospital.code == data.KIOSK_HOSPITAL))
    terminal = plugins["web"]["settings"]["kiosk_terminals"][data.KIOSK_TERMINAL]  # the demo kiosk identifies
    assert terminal == {"hospital_id": first, "name": data.KIOSK_NAME}
    login = demo_logins()[0]
    with use_city(city):
        async with rt.db.transaction() as s:
            member = await authenticate(s, login=login["id_number"], password=login["password"])
    assert member.name == login["name"] and member.phone == login["phone"]


async def test_landing_page_shows_demo_logins_and_a_real_booking_example(rt, demo, client):
    page = (await client.get("/")).text
    for login in demo_logins():
        assert login["phone"] in page and login["id_number"] in page and login["password"] in page
    period_id = int(re.search(r'"period_id": (\d+)', page).group(1))
    with use_city(demo.city):
        async with rt.db.transaction() as s:
            pool = await s.scalar(select(SlotPool).where(SlotPool.period_id == period_id, SlotPool.pool == "public"))
    assert pool is not None and pool.booked < pool.capacity
    city_page = (await client.get("/c/demo/")).text
    assert all(spec.name in city_page for spec in data.HOSPITALS)
    assert "/c/demo/messages" in city_page


async def test_the_full_demo_seeds_its_history_and_quick_seeds_none(rt, monkeypatch):
    from guahao.core.demo import seed as seed_module

    monkeypatch.setattr(seed_module, "HISTORY_DAYS", 2)  # the demo's own (a month) takes longer
    full = await seed_demo(rt, slug=f"demo-full-{utcnow().strftime('%H%M%S%f')}")
    today = utcnow().astimezone(full.city.tz).date()
    assert full.history is not None and full.history.bookings > 0
    assert (full.first_day, full.history.last_day) == (today - timedelta(days=2), today - timedelta(days=1))
    assert full.last_day == today + timedelta(days=13)
    again = await seed_demo(rt, slug=full.city.slug)
    assert again.history is None and again.sessions == full.sessions  # an existing city is only topped up
    quick = await seed_demo(rt, slug=f"demo-quick-{utcnow().strftime('%H%M%S%f')}", days=2)
    assert quick.history is None and quick.first_day == today


async def test_seeding_again_adds_only_missing_days(rt):
    slug = f"demo-top-{utcnow().strftime('%H%M%S%f')}"
    first = await seed_demo(rt, slug=slug, days=2)
    assert first.created and first.sessions_added > 0
    again = await seed_demo(rt, slug=slug, days=2)
    assert not again.created and again.sessions_added == 0 and again.sessions == first.sessions
    more = await seed_demo(rt, slug=slug, days=3)
    assert more.sessions_added > 0 and more.sessions == first.sessions + more.sessions_added
    assert more.last_day == first.first_day + timedelta(days=2)
    assert more.doctors == first.doctors


async def test_drop_city_removes_every_row(rt):
    slug = f"demo-drop-{utcnow().strftime('%H%M%S%f')}"
    report = await seed_demo(rt, slug=slug, days=1)
    assert await drop_city(rt, slug)
    assert not await drop_city(rt, slug)
    with platform_scope("test: nothing of a dropped city remains"):
        async with rt.db.transaction() as s:
            assert await s.scalar(select(func.count()).where(City.slug == slug)) == 0
            for model in (Hospital, Doctor, ClinicSession, SlotPool):
                assert await s.scalar(select(func.count()).select_from(model).where(model.city_id == report.city.id)) == 0


async def _catalogue_names(tmp_dir) -> tuple[list, list]:
    from guahao.core.migrate import upgrade_async

    settings = make_settings("sqlite", tmp_dir)
    await upgrade_async(settings)
    runtime = Runtime(settings)
    try:
        report = await seed_demo(runtime, days=1)
        with use_city(report.city):
            async with runtime.db.transaction() as s:
                hospitals = (await s.scalars(select(Hospital.name).order_by(Hospital.id))).all()
                doctors = (
                    await s.execute(select(Doctor.name, Doctor.title, Doctor.specialty).order_by(Doctor.id))
                ).all()
    finally:
        await runtime.stop()
    return list(hospitals), [tuple(d) for d in doctors]


async def test_two_fresh_databases_get_the_same_catalogue(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = await _catalogue_names(tmp_path / "a")
    second = await _catalogue_names(tmp_path / "b")
    assert first == second
    assert len(first[0]) >= 10 and len(first[1]) >= 300
