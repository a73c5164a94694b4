"""Migration 0011: notifications marked in their error text as still to be retried become
``retrying`` (and back on downgrade)."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from guahao.core.migrate import alembic_config, upgrade
from guahao.tenants.settings import Settings

MARK = "（将重试）"
ROWS = [(1, "failed", MARK + "sms_aliyun: busy"), (2, "failed", "sms_aliyun: isv.MOBILE_NUMBER_ILLEGAL"), (3, "sent", "")]


def _statuses(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, status, error FROM notifications ORDER BY id"))]


def _roundtrip(path) -> tuple[list, list]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{path}", secret_key="m" * 48)
    config = alembic_config(settings)
    before = ScriptDirectory.from_config(config).get_revision("0011").down_revision
    upgrade(settings, before)
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for note_id, status, error in ROWS:
            conn.execute(text(
                "INSERT INTO notifications (city_id, id, kind, sender, recipient, body, essential, status, attempts, error,"
                " created_at) VALUES (1, :id, 'announcement', 'sms_aliyun', '13800000000', 'b', 1, :status, 1, :error,"
                " CURRENT_TIMESTAMP)"
            ), {"id": note_id, "status": status, "error": error})
    upgrade(settings)
    upgraded = _statuses(engine)
    command.downgrade(config, before)
    downgraded = _statuses(engine)
    engine.dispose()
    return upgraded, downgraded


async def test_marked_failures_become_retrying_and_back(tmp_path):
    upgraded, downgraded = await asyncio.to_thread(_roundtrip, tmp_path / "m.sqlite3")
    assert upgraded == [(1, "retrying", "sms_aliyun: busy"), (2, "failed", ROWS[1][2]), (3, "sent", "")]
    assert downgraded == ROWS
