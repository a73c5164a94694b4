"""Reading a HIS-written table by row version, so that nothing is missed or read twice.

Each insert or update of a row the HIS writes takes the next number of its table's sequence
(``row_version``). We keep, per hospital and table (``MidtableMark``), the highest version
processed (``mark``) and the versions below it we have not seen (``gaps``). A read asks for
``row_version > mark OR row_version IN (gaps)`` in version order, a page at a time:

- a version above the mark moves the mark; the numbers it jumped over become gaps — a change
  whose transaction took its number earlier but had not committed yet, or one rolled back;
- a gap that turns up is processed and leaves the gap list, so a change that commits late is
  read once, later; a gap whose number the table's sequence (``mt_schedule_seq`` …) shows
  committed while no row carries it was replaced by a later update of its row and is dropped;
  other gaps that never turn up (rolled back) are dropped after ``gap_hours``;
- every row is processed once: it is either above the mark or in the gaps, never both.

Rows of every hospital in the database are read (one sequence per table, shared by the
hospitals of a group) and only the hospital's own are kept, so other hospitals' changes are
not mistaken for gaps. The rows kept go to ``MidtableRow`` (latest version wins) in the same
platform transaction that moves the mark: a read that fails half-way is read again in full.
Two reads of one table at once: the second to finish finds the mark moved and reads again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from sqlalchemy import bindparam, delete, select, text

from guahao.plugin_api import CityContext, city_session, utcnow

from . import database
from .models import MidtableMark, MidtableRow

log = logging.getLogger("guahao.plugins.midtable")

PAGE = 500
MAX_GAPS = 2000  # versions remembered as missing; a larger jump keeps the newest
CONCURRENT_TRIES = 5

Row = Mapping[str, Any]


def patient_key(kind: str, value: str) -> str:
    """What a fee item's patient is found by: a hash, never the number itself."""
    value = (value or "").strip().upper()
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest() if value else ""


@dataclass(frozen=True)
class Kept:
    """What of a HIS row is kept: its day, booking, patient and data."""

    day: Any = None
    booking_id: str = ""
    patient_key: str = ""
    data: dict | None = None


@dataclass
class ReadResult:
    rows: int = 0  # rows of this hospital processed
    others: int = 0  # rows of other hospitals passed over
    mark: int = 0
    gaps: int = 0


async def follow(
    rt, city: CityContext, *, hospital_code: str, table: str, his_table: str, settings: Mapping, secrets: Mapping,
    keep: Callable[[Row], Kept], now: datetime | None = None,
) -> ReadResult:
    """Read what changed in ``his_table`` since the last read for ``hospital_code`` and keep
    it (``keep`` turns a HIS row into what is stored). Raises ``HisUnavailable``.

    No platform transaction stays open while the hospital's database is read (on SQLite every
    transaction holds the write lock): the mark is read, the rows fetched, then kept and the
    mark moved in one short transaction, only if no other read moved the mark meanwhile (else
    the read starts again from the new mark)."""
    now = now or utcnow()
    source = database.where(str(settings.get("url") or ""))
    await _ensure_mark(rt, city, hospital_code, table)
    keep_after = now - timedelta(hours=int(settings.get("gap_hours") or 24))
    for _ in range(CONCURRENT_TRIES):
        async with city_session(rt, city) as s:
            mark = await _mark(s, hospital_code, table)
            before = (mark.source, int(mark.mark or 0), dict(mark.gaps or {}))
        fresh = before[0] != source  # another database: start again, forget what the old one said
        high = 0 if fresh else before[1]
        gaps = {} if fresh else {int(v): at for v, at in before[2].items() if _when(at) > keep_after}
        result, mine = ReadResult(), []
        seen_at = now.isoformat()
        async with database.connect(settings, secrets) as conn:
            while True:
                rows = await _page(conn, his_table, high, sorted(gaps))
                for row in rows:
                    version = int(row["row_version"])
                    if version in gaps:
                        del gaps[version]
                    elif version > high:
                        for missing in range(max(high + 1, version - MAX_GAPS), version):
                            gaps[missing] = seen_at
                        high = version
                    else:  # cannot happen with the query above; never process a version twice
                        continue
                    if str(row["hospital_code"]) == hospital_code:
                        mine.append(row)
                    else:
                        result.others += 1
                if len(rows) < PAGE:
                    break
        if gaps:
            for version in await _replaced(settings, secrets, his_table, sorted(gaps)):
                gaps.pop(version, None)
        if len(gaps) > MAX_GAPS:
            gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
        async with city_session(rt, city) as s:
            mark = await _mark(s, hospital_code, table, lock=True)
            if (mark.source, int(mark.mark or 0), dict(mark.gaps or {})) != before:
                continue  # another read of this table kept its rows meanwhile: read again from there
            if fresh:
                await s.execute(delete(MidtableRow).where(MidtableRow.hospital_code == hospital_code,
                                                          MidtableRow.table_name == table))
            await _keep(s, hospital_code, table, mine, keep, now)
            mark.source, mark.mark, mark.gaps = source, high, {str(v): at for v, at in sorted(gaps.items())}
            mark.rows_read = int(mark.rows_read or 0) + len(mine)
            mark.read_at = now
        result.rows, result.mark, result.gaps = len(mine), high, len(gaps)
        return result
    raise database.HisUnavailable(f"{his_table} of hospital {hospital_code}: other reads kept moving the mark; "
                                  "read again later")


async def _replaced(settings: Mapping, secrets: Mapping, his_table: str, gaps: list[int]) -> list[int]:
    """The gaps that were committed and then replaced by a later update of their row before we
    read it: their number is in the table's sequence (committed with the change) and no row
    carries it (one statement, so one consistent view). They will never turn up. Without the
    right to read the sequence (or with it purged) nothing is resolved: the gaps wait."""
    q = text(f"SELECT s.id FROM {his_table}_seq s WHERE s.id IN :gaps AND NOT EXISTS "
             f"(SELECT 1 FROM {his_table} d WHERE d.row_version = s.id)").bindparams(bindparam("gaps", expanding=True))
    try:
        async with database.connect(settings, secrets) as conn:
            return [int(v) for v in (await conn.execute(q, {"gaps": gaps})).scalars().all()]
    except database.HisUnavailable as exc:
        log.info("midtable: gaps of %s not resolved: %s", his_table, exc)
        return []


async def _mark(s, hospital_code: str, table: str, *, lock: bool = False) -> MidtableMark:
    q = select(MidtableMark).where(MidtableMark.hospital_code == hospital_code, MidtableMark.table_name == table)
    found = await s.scalar(q.with_for_update() if lock else q)
    assert found is not None
    return found


def _when(text_: str) -> datetime:
    try:
        return datetime.fromisoformat(str(text_))
    except ValueError:
        return datetime.min.replace(tzinfo=utcnow().tzinfo)


async def _ensure_mark(rt, city: CityContext, hospital_code: str, table: str) -> None:
    async with city_session(rt, city) as s:
        found = await s.scalar(select(MidtableMark.id).where(MidtableMark.hospital_code == hospital_code,
                                                             MidtableMark.table_name == table))
    if found is not None:
        return
    try:
        async with city_session(rt, city) as s:
            s.add(MidtableMark(hospital_code=hospital_code, table_name=table, gaps={}))
    except Exception:  # made at the same moment by another read: that one is as good
        async with city_session(rt, city) as s:
            if await s.scalar(select(MidtableMark.id).where(MidtableMark.hospital_code == hospital_code,
                                                            MidtableMark.table_name == table)) is None:
                raise


async def _page(conn, his_table: str, after: int, gaps: list[int]) -> list[Row]:
    if gaps:
        q = text(f"SELECT * FROM {his_table} WHERE row_version > :after OR row_version IN :gaps "
                 f"ORDER BY row_version LIMIT {PAGE}").bindparams(bindparam("gaps", expanding=True))
        result = await conn.execute(q, {"after": after, "gaps": gaps})
    else:
        result = await conn.execute(text(f"SELECT * FROM {his_table} WHERE row_version > :after "
                                         f"ORDER BY row_version LIMIT {PAGE}"), {"after": after})
    return [dict(r) for r in result.mappings().all()]


async def _keep(s, hospital_code: str, table: str, rows: list[Row], keep: Callable[[Row], Kept], now: datetime) -> None:
    if not rows:
        return
    keys = [str(r["id"]) for r in rows]
    stored = {
        r.row_key: r for r in (await s.scalars(select(MidtableRow).where(
            MidtableRow.hospital_code == hospital_code, MidtableRow.table_name == table,
            MidtableRow.row_key.in_(keys)))).all()  # type: ignore[attr-defined]
    }
    for row in rows:
        key, version = str(row["id"]), int(row["row_version"])
        kept = keep(row)
        found = stored.get(key)
        if found is None:
            found = MidtableRow(hospital_code=hospital_code, table_name=table, row_key=key, version=version)
            s.add(found)
            stored[key] = found
        elif found.version >= version:  # an older version turning up late: the newer one stays
            continue
        found.version, found.day, found.booking_id = version, kept.day, kept.booking_id[:24]
        found.patient_key, found.data, found.read_at = kept.patient_key, dict(kept.data or {}), now
    await s.flush()


async def kept_rows(rt, city: CityContext, hospital_code: str, table: str, **where) -> list[MidtableRow]:
    """The rows kept of a hospital's table: ``day_from``/``day_to``, ``patient_keys``,
    ``booking_ids`` narrow them; in version order."""
    async with city_session(rt, city) as s:
        q = select(MidtableRow).where(MidtableRow.hospital_code == hospital_code, MidtableRow.table_name == table)
        if where.get("day_from") is not None:
            q = q.where(MidtableRow.day >= where["day_from"])  # type: ignore[operator]
        if where.get("day_to") is not None:
            q = q.where(MidtableRow.day <= where["day_to"])  # type: ignore[operator]
        if where.get("patient_keys") is not None:
            q = q.where(MidtableRow.patient_key.in_(where["patient_keys"]))  # type: ignore[attr-defined]
        return list((await s.scalars(q.order_by(MidtableRow.version))).all())
