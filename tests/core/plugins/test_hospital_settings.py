"""A hospital's own settings for a plugin: checked against the plugin's hospital model, stored
with credentials encrypted and audited, and applied to that hospital's bookings only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from guahao.core import audit
from guahao.core.errors import DomainError
from guahao.core.jobs import drain_in_process
from guahao.core.models import AuditEntry, Hospital
from guahao.core.models.plugins import HospitalPlugin
from guahao.core.plugins.hospital import configure_hospital_plugin
from guahao.core.plugins.settings import SettingsInvalid
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city
from tests.core.jobs.test_handlers import book, last_period
from tests.core.plugins.probes import enable, make_member, outbox_rows

ACTOR = audit.Actor("staff:1", "测试管理员")


async def _set(rt, city, hospital_id: int, plugin: str, **values):
    with use_city(city):
        async with rt.db.transaction() as s:
            await configure_hospital_plugin(s, ACTOR, hospital_id, plugin, host=rt.plugins, **values)
    return await get_city(rt.db, city.slug)


async def _other_hospital(rt, city, catalogue) -> Hospital:
    with use_city(city):
        async with rt.db.transaction() as s:
            other = Hospital(code=f"{catalogue.hospital.code}-2", name="第二医院")
            s.add(other)
            await s.flush()
            return other


async def test_a_hospitals_values_override_the_citys_for_that_hospital_only(rt, city, catalogue):
    other = await _other_hospital(rt, city, catalogue)
    city = await enable(rt, city, "demo_his", settings={"fail_pushes": False}, secrets={"token": "city-token-1"})
    city = await _set(rt, city, catalogue.hospital.id, "demo_his", settings={"fail_pushes": True})
    plugins = await rt.plugins.for_city(city)
    adapter = plugins.his_adapter("demo_his")
    assert plugins.config_of(adapter, catalogue.hospital.id) == ({"fail_pushes": True}, {"token": "city-token-1"})
    assert plugins.config_of(adapter, other.id) == ({"fail_pushes": False}, {"token": "city-token-1"})
    assert plugins.config_of(adapter) == ({"fail_pushes": False}, {"token": "city-token-1"})


async def test_the_push_of_a_booking_uses_its_hospitals_settings(rt, city, catalogue):
    city = await enable(rt, city, "demo_his", settings={"fail_pushes": False}, secrets={"token": "city-token-1"})
    city = await _set(rt, city, catalogue.hospital.id, "demo_his", settings={"fail_pushes": True})
    member = await make_member(rt, city)
    await book(rt, city, member, last_period(catalogue).id)
    await drain_in_process(rt, city_id=city.id)
    [push] = await outbox_rows(rt, city, topic="his.push")
    assert push.status == "pending" and "HisUnavailable" in push.last_error  # this hospital's HIS is "down"


async def test_bad_hospital_values_are_refused_and_change_nothing(rt, city, catalogue):
    city = await enable(rt, city, "demo_his")
    with pytest.raises(SettingsInvalid) as refused:
        await _set(rt, city, catalogue.hospital.id, "demo_his", settings={"fail_pushes": "sometimes", "colour": "red"})
    assert set(refused.value.errors) == {"fail_pushes", "colour"}
    with pytest.raises(DomainError) as none:
        await _set(rt, city, catalogue.hospital.id, "pay_at_hospital", settings={})
    assert none.value.code == "no_hospital_settings"
    with use_city(city):
        async with rt.db.transaction() as s:
            assert (await s.scalars(select(HospitalPlugin))).all() == []
            assert not (await s.scalars(select(AuditEntry).where(AuditEntry.action == "hospital.plugin"))).all()


async def test_a_change_is_audited_without_credentials(rt, city, catalogue):
    city = await enable(rt, city, "demo_his")
    await _set(rt, city, catalogue.hospital.id, "demo_his", settings={"fail_pushes": False})
    with use_city(city):
        async with rt.db.transaction() as s:
            [entry] = (await s.scalars(select(AuditEntry).where(AuditEntry.action == "hospital.plugin"))).all()
    assert entry.target_id == str(catalogue.hospital.id) and entry.after["settings"] == {"fail_pushes": False}
