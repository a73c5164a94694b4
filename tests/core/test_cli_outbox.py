"""``guahao outbox list|retry|abandon``: a city's failing deliveries from the shell."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from guahao.core.cli import main
from guahao.core.jobs import MAX_ATTEMPTS
from guahao.core.models import AuditEntry, OutboxMessage
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city
from tests.core.test_cli import _slug, env  # noqa: F401  (the fixture)


async def _with_runtime(settings, fn):
    from guahao.core.runtime import Runtime

    runtime = Runtime(settings)
    try:
        return await fn(runtime)
    finally:
        await runtime.stop()


def _emit(settings, slug: str, rows: list[dict]) -> list[int]:
    async def go(rt):
        city = await get_city(rt.db, slug)
        with use_city(city):
            async with rt.db.transaction() as s:
                made = [OutboxMessage(**row) for row in rows]
                s.add_all(made)
                await s.flush()
                return [m.id for m in made]

    return asyncio.run(_with_runtime(settings, go))


def _state(settings, slug: str):
    async def go(rt):
        from sqlalchemy import select

        city = await get_city(rt.db, slug)
        with use_city(city):
            async with rt.db.transaction() as s:
                rows = {m.id: m for m in (await s.scalars(select(OutboxMessage))).all()}
                audit = [(a.action, a.target_id, a.reason, a.actor) for a in (await s.scalars(
                    select(AuditEntry).where(AuditEntry.target_type == "outbox").order_by(AuditEntry.id))).all()]
        return rows, audit

    return asyncio.run(_with_runtime(settings, go))


def test_list_retry_and_abandon_from_the_shell(env, capsys):  # noqa: F811
    slug = _slug()
    assert main(["city", "create", slug, "投递市"]) == 0
    later = utcnow() + timedelta(minutes=15)
    failing, gave_up, fresh = _emit(env, slug, [
        {"topic": "his.push", "payload": {"booking_id": "GHAAAA", "action": "book"}, "attempts": MAX_ATTEMPTS + 3,
         "last_error": "HisUnavailable: the HIS is down\nTraceback …", "due_at": later},
        {"topic": "notify", "payload": {"kind": "reminder"}, "attempts": MAX_ATTEMPTS, "status": "failed",
         "last_error": "SenderError: 500"},
        {"topic": "booking.event", "payload": {"booking_id": "GHBBBB"}, "due_at": later},
    ])
    capsys.readouterr()

    assert main(["outbox", "list", slug]) == 0
    out = capsys.readouterr().out
    assert f"{slug}: 1 waiting, 0 retrying, 1 failing, 1 failed, 0 abandoned" in out
    ids = [int(line.split()[0]) for line in out.splitlines()[1:]]
    assert ids == [failing, gave_up]  # not the fresh one: not failed yet (only with --all)
    assert "HisUnavailable: the HIS is down" in out and "Traceback" not in out
    assert main(["outbox", "list", slug, "--all"]) == 0
    assert [int(line.split()[0]) for line in capsys.readouterr().out.splitlines()[1:]] == [failing, fresh]
    assert main(["outbox", "list", slug, "--failed", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(d["id"], d["state"]) for d in listed["deliveries"]] == [(failing, "failing"), (gave_up, "failed")]

    assert main(["outbox", "retry", str(failing)]) == 0
    assert "will run again now" in capsys.readouterr().out
    assert main(["outbox", "abandon", str(gave_up), "--reason", "提醒已过时"]) == 0
    assert main(["outbox", "abandon", str(gave_up), "--reason", "again"]) == 1
    assert "已放弃" in capsys.readouterr().err
    assert main(["outbox", "retry", "999999999"]) == 1
    assert "no delivery 999999999" in capsys.readouterr().err
    assert main(["outbox", "retry"]) == 1  # neither an id nor --all-failed
    assert main(["outbox", "retry", "--all-failed"]) == 1  # without --city
    assert main(["outbox", "retry", "--all-failed", "--city", slug]) == 0
    # Still failing (a retry keeps its count of failed attempts); the abandoned one is left alone.
    assert f"1 failing or failed deliveries will run again now ({failing})" in capsys.readouterr().out

    rows, audit = _state(env, slug)
    assert rows[failing].status == "pending" and rows[failing].due_at <= utcnow()
    assert rows[gave_up].status == "abandoned" and rows[fresh].status == "pending"
    assert audit == [("outbox.retry", str(failing), "", "system"), ("outbox.abandon", str(gave_up), "提醒已过时", "system"),
                     ("outbox.retry", str(failing), "", "system")]
