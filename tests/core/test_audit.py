"""The audit log: entries commit with the change, secrets never reach it, search filters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from guahao.core import audit
from guahao.core.models import AuditEntry
from guahao.tenants.clock import utcnow
from tests.core.booking.helpers import run
from tests.factories import make_city

ADMIN = audit.Actor("staff", 7, name="王五", role="city_admin", ip="10.0.0.9")


async def test_record_redacts_secrets_at_any_depth(rt, city):
    async def add(s):
        return audit.record(
            s, ADMIN, "plugin.configure", target_type="plugin", target_id="sms_aliyun",
            before={"enabled": False},
            after={"settings": {"sign_name": "示例市", "access_key_secret": "s3cr3t"}, "api_key": "k",
                   "nested": [{"password": "p"}], "at": utcnow()},
        )

    entry = await run(rt, city, add)
    [got] = await run(rt, city, audit.search, target_id="sms_aliyun")
    assert got.id == entry.id
    assert got.after["settings"] == {"sign_name": "示例市", "access_key_secret": "***"}
    assert got.after["api_key"] == "***" and got.after["nested"] == [{"password": "***"}]
    assert "s3cr3t" not in repr(got.after)
    assert (got.actor, got.actor_name, got.actor_role, got.ip) == ("staff:7", "王五", "city_admin", "10.0.0.9")


async def test_entry_rolls_back_with_the_failed_change(rt, city):
    async def fails(s):
        audit.record(s, ADMIN, "staff.create", target_type="staff", target_id="99")
        await s.flush()
        raise RuntimeError("the change failed")

    with pytest.raises(RuntimeError):
        await run(rt, city, fails)
    assert await run(rt, city, audit.search, target_id="99") == []


async def test_search_filters_and_pages_newest_first(rt, city):
    async def seed(s):
        for i in range(5):
            audit.record(s, ADMIN, "session.suspend", target_type="session", target_id=str(i), reason=f"医生出差 {i}")
        audit.record(s, audit.SYSTEM, "city.rules", summary="窗口改为 7 天")

    await run(rt, city, seed)
    page = await run(rt, city, audit.search, action="session.", limit=3)
    assert [e.target_id for e in page] == ["4", "3", "2"]
    rest = await run(rt, city, audit.search, action="session.", before_id=page[-1].id)
    assert [e.target_id for e in rest] == ["1", "0"]
    assert [e.actor for e in await run(rt, city, audit.search, text="窗口")] == ["system"]
    assert len(await run(rt, city, audit.search, actor="王五")) == 5
    assert await run(rt, city, audit.search, since=utcnow() + timedelta(minutes=1)) == []


async def test_another_city_sees_none_of_it(rt, city):
    async def seed(s):
        audit.record(s, ADMIN, "staff.create", target_type="staff", target_id="1")

    await run(rt, city, seed)
    other = await make_city(rt, f"audit-other-{city.id}")
    assert await run(rt, other, audit.search) == []
    assert len(await run(rt, city, audit.search)) == 1
    assert AuditEntry.__tablename__ == "audit_entries"
