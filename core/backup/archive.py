"""The backup file: a zip archive (deflated) with ``manifest.json`` and one
``tables/<name>.jsonl`` per table, each line a row's canonical text (``canonical.row_line``).

The manifest names the city, where and when the backup was made, and per table its columns
and their kinds, its primary key, its row count and the SHA-256 of its lines. It is written
last, and the file is renamed into place only when complete, so a file that exists is whole.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any, Iterator

from .rows import BackupError, TableSum
from .tables import TableSpec

FORMAT = "guahao-city-backup"
VERSION = 1
MANIFEST = "manifest.json"


def member(table: str) -> str:
    return f"tables/{table}.jsonl"


class Writer:
    """Writes a backup to ``path`` (through ``path.partial``, renamed on :meth:`close`)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.zip = zipfile.ZipFile(self.partial, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)

    def table(self, name: str) -> io.TextIOWrapper:
        raw = self.zip.open(member(name), "w", force_zip64=True)
        return io.TextIOWrapper(raw, encoding="utf-8", newline="\n")

    def close(self, manifest: dict[str, Any]) -> None:
        self.zip.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1))
        self.zip.close()
        os.replace(self.partial, self.path)

    def abort(self) -> None:
        self.zip.close()
        self.partial.unlink(missing_ok=True)


class Reader:
    """Reads a backup file: its manifest, then each table's lines."""

    def __init__(self, path: Path):
        try:
            self.zip = zipfile.ZipFile(path)
            self.manifest = json.loads(self.zip.read(MANIFEST))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
            raise BackupError(f"{path}: not a guahao city backup ({exc})") from None
        if self.manifest.get("format") != FORMAT or self.manifest.get("version") != VERSION:
            raise BackupError(f"{path}: not a guahao city backup of version {VERSION}")
        self.specs = [TableSpec.from_json(t) for t in self.manifest["tables"]]
        self.sums = [TableSum(t["name"], t["rows"], t["sha256"]) for t in self.manifest["tables"]]

    @property
    def city(self) -> dict[str, Any]:
        return self.manifest["city"]

    def lines(self, table: str) -> Iterator[str]:
        with self.zip.open(member(table)) as raw:
            for line in io.TextIOWrapper(raw, encoding="utf-8", newline="\n"):
                yield line.rstrip("\n")

    def close(self) -> None:
        self.zip.close()


def manifest(city: dict[str, Any], source: dict[str, Any], created_at: str,
             tables: list[tuple[TableSpec, TableSum]]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "city": city,
        "created_at": created_at,
        "source": source,
        "tables": [{**spec.to_json(), "rows": s.rows, "sha256": s.sha256} for spec, s in tables],
    }
