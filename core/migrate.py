"""Run Alembic migrations programmatically (``guahao migrate``) as the owner connection.

Core's revisions live in ``core/migrations/versions``; a plugin with tables ships its own
folder (``PluginMeta.migrations``) whose revisions form a branch labelled with the plugin's
name and depend on the core revision they need. Every working plugin's folder is searched, and
``upgrade`` brings every branch to its head.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from guahao.tenants.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def version_locations() -> list[str]:
    """Core's revision folder and those of the working plugins that ship migrations."""
    from guahao.core.plugins.loader import discover

    plugin_folders = sorted(str(p.meta.migrations) for p in discover().plugins.values() if p.meta.migrations)
    return [str(MIGRATIONS / "versions"), *plugin_folders]


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(version_locations()))
    cfg.set_main_option("sqlalchemy.url", settings.owner_url.replace("%", "%%"))
    cfg.attributes["app_role"] = settings.app_role
    return cfg


def upgrade(settings: Settings, revision: str = "heads") -> None:
    """Bring the schema to ``revision`` (default: every branch's head). Safe to run again;
    creates the SQLite folder."""
    path = settings.sqlite_path()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)


async def upgrade_async(settings: Settings, revision: str = "heads") -> None:
    await asyncio.to_thread(upgrade, settings, revision)
