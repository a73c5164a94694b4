"""``guahao city backup|restore``: one city's rows into a file and back (``core.backup``)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from .common import CliError, add_command, settings_from_env

BACKUP_EXAMPLES = """\
examples:
  guahao city backup hz --out hz-20261207.guahao-backup.zip
  guahao city backup hz --out /backups/hz.zip --tables     # and print each table's rows and checksum

The file holds the city's row, and its rows of every table with a city_id (core's, the
plugins' and licensing's), with per table the row count and a SHA-256 checksum. The database
is DATABASE_URL (the owner's login), read in one consistent snapshot.
"""

RESTORE_EXAMPLES = """\
examples:
  guahao city restore hz.zip --database-url postgresql://guahao@db-new:5432/guahao
  guahao city restore hz.zip --database-url postgresql://guahao@db:5432/guahao --replace

The database is brought to the migration head first (unless --no-migrate), the rows are
loaded with their ids in one transaction, and every table's count and checksum is compared
with the file's manifest; on the first difference nothing is kept and the command exits 1.
"""


def _print_tables(report) -> None:
    for t in report.tables:
        print(f"  {t.name:<32} {t.rows:>10,} rows  sha256 {t.sha256}")


def cmd_backup(args) -> int:
    from guahao.core.backup import BackupError, backup_city
    from guahao.tenants.settings import Settings

    settings = Settings.from_env(database_url=args.database_url) if args.database_url else settings_from_env()
    out = Path(args.out)
    if out.exists() and not args.force:
        raise CliError(f"{out} exists; give --force to overwrite it")
    try:
        report = asyncio.run(backup_city(settings.owner_url, args.city, out))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    c = report.city
    print(f"backed up {c['name']} ({c['slug']}, id {c['id']}): {len(report.tables)} tables, {report.rows:,} rows "
          f"→ {out} ({out.stat().st_size:,} bytes) [{report.seconds:.1f} s]")
    if args.tables:
        _print_tables(report)
    return 0


def cmd_restore(args) -> int:
    from guahao.core.backup import BackupError, read_manifest, restore_city
    from guahao.core.migrate import upgrade
    from guahao.tenants.settings import Settings

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no file {path}")
    settings = Settings.from_env(database_url=args.database_url)
    try:
        manifest = read_manifest(path)
        if not args.no_migrate:
            upgrade(settings)
        report = asyncio.run(restore_city(path, settings.owner_url, replace=args.replace))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    c = report.city
    verb = "replaced" if report.replaced else "restored"
    print(f"{verb} {c['name']} ({c['slug']}, id {c['id']}) from {path} (made {manifest['created_at']}): "
          f"{len(report.tables)} tables, {report.rows:,} rows; every count and checksum matches [{report.seconds:.1f} s]")
    if report.source_revisions and report.source_revisions != report.target_revisions:
        print(f"note: the backup was made at schema {', '.join(report.source_revisions)}; "
              f"this database is at {', '.join(report.target_revisions)}")
    if args.tables:
        _print_tables(report)
    return 0


def _city_subcommands(subs) -> argparse._SubParsersAction:
    city = subs.choices.get("city")
    if city is None:
        raise RuntimeError("add the city commands before the backup commands")
    return next(a for a in city._actions if isinstance(a, argparse._SubParsersAction))


def add_backup_commands(subs, epilog: str) -> None:
    """Add ``city backup`` and ``city restore`` to the ``city`` command."""
    csubs = _city_subcommands(subs)
    p = add_command(csubs, "backup", "Write one city's rows (every table) into a checksummed backup file.",
                    cmd_backup, BACKUP_EXAMPLES)
    p.add_argument("city", help="the city's slug")
    p.add_argument("--out", required=True, metavar="FILE", help="the backup file to write (a zip archive)")
    p.add_argument("--database-url", help="read this database instead of DATABASE_URL")
    p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    p.add_argument("--tables", action="store_true", help="print each table's row count and checksum")
    p = add_command(csubs, "restore", "Load a city's backup file into a database and verify every table.",
                    cmd_restore, RESTORE_EXAMPLES)
    p.add_argument("file", help="the backup file (from `guahao city backup`)")
    p.add_argument("--database-url", required=True, metavar="URL",
                   help="the database to restore into (the owner's login)")
    p.add_argument("--replace", action="store_true", help="delete a city with the same slug there first")
    p.add_argument("--no-migrate", action="store_true", help="do not bring the schema to the migration head first")
    p.add_argument("--tables", action="store_true", help="print each table's row count and checksum")
