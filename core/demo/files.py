"""The demo city's catalogue as import files, shipped in ``core/demo/import_files/``.

They show an operator what a city's spreadsheet looks like, and importing them into an
empty city reproduces the demo catalogue (schedules are not part of the import: sessions
come from weekly templates). They are generated from the demo seed, never edited by hand;
regenerate them after changing ``core/demo``::

    python -m guahao.core.demo.files            # rewrites core/demo/import_files/
    python -m guahao.core.demo.files OUT_DIR
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from guahao.core.importing.export import catalogue_rows, write_files
from guahao.tenants.context import use_city
from guahao.tenants.settings import Settings

from .data import CITY_SLUG
from .seed import seed_demo

DEMO_DIR = Path(__file__).resolve().parent / "import_files"
WORKBOOK = "demo.xlsx"


async def write_demo_files(rt, directory: str | Path, *, slug: str = CITY_SLUG) -> list[Path]:
    """Seed the demo catalogue as city ``slug`` of ``rt``'s database unless it exists (no
    sessions), then write its import files into ``directory``; returns the paths."""
    report = await seed_demo(rt, slug=slug, days=0)
    with use_city(report.city):
        async with rt.db.transaction() as s:
            rows = await catalogue_rows(s)
    return write_files(rows, directory, workbook=WORKBOOK)


async def regenerate(directory: str | Path = DEMO_DIR) -> list[Path]:
    """Build the demo catalogue in a scratch SQLite database and write its files."""
    from guahao.core.migrate import upgrade_async
    from guahao.tenants.db import Database

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/demo.sqlite3", secret_key=secrets.token_hex(32))
        await upgrade_async(settings)
        db = Database(settings)
        try:
            return await write_demo_files(SimpleNamespace(db=db, settings=settings), directory)
        finally:
            await db.dispose()


def main(argv: list[str]) -> int:
    from guahao.tenants.crypto import configure_cipher

    configure_cipher(secrets.token_hex(32))  # the scratch database's members are thrown away
    for path in asyncio.run(regenerate(argv[0] if argv else DEMO_DIR)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
