"""Per-city backup and restore, and the copy-and-verify of one city between databases.

A city is a set of rows in shared tables (every tenant table has ``city_id``): a backup is
those rows of every such table (found in the database, so plugins' and licensing's tables are
included) plus the city's own row, in one compressed file with a manifest of per-table row
counts and checksums. See ``deploy/backup.md``.
"""

from .canonical import Digest, row_line
from .rows import BackupError, TableSum, mismatches, verify_city
from .service import Report, backup_city, city_row, copy_city, copy_city_between, load_city, read_manifest, restore_city
from .tables import CitySchema, TableSpec, discover

__all__ = [
    "BackupError", "CitySchema", "Digest", "Report", "TableSpec", "TableSum", "backup_city", "city_row", "copy_city",
    "copy_city_between", "discover", "load_city", "mismatches", "read_manifest", "restore_city", "row_line",
    "verify_city",
]
