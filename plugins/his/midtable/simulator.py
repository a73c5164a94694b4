"""A hospital's side of the intermediate tables, for tests and the demo.

It plays the HIS in plain SQL over its own MySQL connection (``aiomysql``), as a hospital's
programs would, never through the adapter: it creates the tables from ``docs/his-midtable.sql``,
publishes schedules (and 停诊), picks up the platform's request rows and marks them ``DONE`` or
``ERROR``, and writes visit statuses and fee items.

    async with SimulatedHospital.fresh("127.0.0.1", 3306, "root") as his:   # a new database
        await his.publish("H1", "S1", doctor_code="D3", day=d, half_day="am",
                          periods=[("08:00", "09:00", 5)], fee_fen=500)
        await his.process()                       # DONE every NEW request
        await his.visit("H1", booking_id, "CHECKED_IN", day=d)
"""

from __future__ import annotations

import asyncio
import itertools
import re
import uuid
from contextlib import asynccontextmanager
from datetime import date, datetime
from pathlib import Path
from typing import AsyncIterator, Iterable

import aiomysql

DDL = Path(__file__).resolve().parents[3] / "docs" / "his-midtable.sql"


def statements(sql: str) -> list[str]:
    """The statements of a MySQL script, honouring ``DELIMITER`` lines as the mysql client does."""
    out, delimiter, buf = [], ";", []
    for line in sql.splitlines():
        stripped = line.strip()
        m = re.match(r"(?i)^DELIMITER\s+(\S+)\s*$", stripped)
        if m:
            delimiter = m.group(1)
            continue
        if not buf and (not stripped or stripped.startswith("--")):
            continue
        buf.append(line)
        if stripped.endswith(delimiter):
            text = "\n".join(buf).rstrip()
            out.append(text[: -len(delimiter)].strip())
            buf = []
    if "".join(buf).strip():
        out.append("\n".join(buf).strip())
    return [s for s in out if s]


class SimulatedHospital:
    """The HIS end of one intermediate database (see the module).

    Parameters:
        host, port, user, password: the MySQL/MariaDB server.
        database: the intermediate database.
        prefix: the agreed table prefix (``mt_``).
    """

    def __init__(self, host: str, port: int, user: str, password: str = "", database: str = "", prefix: str = "mt_"):
        self.host, self.port, self.user, self.password, self.database = host, port, user, password, database
        self.prefix = prefix
        self._numbers = itertools.count(1)
        self.reject: dict[str, str] = {}  # request_id (or booking id) → why the HIS refuses it

    # --- the database ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The adapter's ``url`` setting for this database (no password)."""
        return f"mysql+aiomysql://{self.user}@{self.host}:{self.port}/{self.database}"

    @asynccontextmanager
    async def connection(self, database: str | None = None) -> AsyncIterator[aiomysql.Connection]:
        conn = await aiomysql.connect(host=self.host, port=self.port, user=self.user, password=self.password,
                                      db=self.database if database is None else database, charset="utf8mb4",
                                      autocommit=False)
        try:
            yield conn
        finally:
            conn.close()

    @classmethod
    @asynccontextmanager
    async def fresh(cls, host: str = "127.0.0.1", port: int = 3306, user: str = "root", password: str = "",
                    prefix: str = "mt_") -> AsyncIterator["SimulatedHospital"]:
        """A new database with the agreed tables, dropped at the end."""
        his = cls(host, port, user, password, f"midtable_{uuid.uuid4().hex[:12]}", prefix)
        await his.create_database()
        try:
            await his.create_tables()
            yield his
        finally:
            await his.drop_database()

    async def create_database(self) -> None:
        async with self.connection(database="") as conn, conn.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{self.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")

    async def drop_database(self) -> None:
        async with self.connection(database="") as conn, conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{self.database}`")

    async def create_tables(self, ddl: Path = DDL) -> None:
        """Run the published DDL (with the prefix when it is not ``mt_``)."""
        sql = ddl.read_text(encoding="utf-8")
        if self.prefix != "mt_":
            sql = re.sub(r"\bmt_", self.prefix, sql)
        async with self.connection() as conn, conn.cursor() as cur:
            for stmt in statements(sql):
                await cur.execute(stmt)
            await conn.commit()

    def t(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def execute(self, sql: str, *args) -> int:
        """One statement in its own transaction; returns the rows it touched."""
        async with self.connection() as conn, conn.cursor() as cur:
            count = await cur.execute(sql, args or None)
            await conn.commit()
            return int(count)

    async def rows(self, sql: str, *args) -> list[dict]:
        async with self.connection() as conn, conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(sql, args or None)
            found = list(await cur.fetchall())
            await conn.commit()
            return found

    # --- schedules (the HIS writes) --------------------------------------------------------

    async def publish(
        self, hospital_code: str, session_no: str, *, doctor_code: str, day: date, half_day: str,
        periods: Iterable[tuple[str, str, int]], fee_fen: int | None = None, department_code: str = "",
        doctor_name: str = "", onsite: int = 0, registration_type: str = "",
    ) -> None:
        """Publish (or republish) a session: one row per period ``(start, end, capacity)``."""
        async with self.connection() as conn, conn.cursor() as cur:
            for number, (start, end, capacity) in enumerate(periods, 1):
                await cur.execute(
                    f"INSERT INTO {self.t('schedule')} (hospital_code, session_no, period_no, department_code, "
                    "doctor_code, doctor_name, clinic_date, half_day, start_time, end_time, registration_type, fee_fen, "
                    "capacity, onsite_capacity, status) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,'OPEN') "
                    "ON DUPLICATE KEY UPDATE start_time = VALUES(start_time), end_time = VALUES(end_time), "
                    "capacity = VALUES(capacity), onsite_capacity = VALUES(onsite_capacity), fee_fen = VALUES(fee_fen), "
                    "status = 'OPEN', stop_reason = ''",
                    (hospital_code, session_no, number, department_code, doctor_code, doctor_name, day, half_day,
                     start, end, registration_type, fee_fen, capacity, onsite),
                )
            await conn.commit()

    async def set_capacity(self, hospital_code: str, session_no: str, period_no: int, capacity: int) -> None:
        await self.execute(f"UPDATE {self.t('schedule')} SET capacity = %s WHERE hospital_code = %s AND session_no = %s "
                           "AND period_no = %s", capacity, hospital_code, session_no, period_no)

    async def stop(self, hospital_code: str, session_no: str, reason: str) -> None:
        """停诊: every period of the session, with the reason patients are told."""
        await self.execute(f"UPDATE {self.t('schedule')} SET status = 'STOPPED', stop_reason = %s "
                           "WHERE hospital_code = %s AND session_no = %s", reason, hospital_code, session_no)

    # --- the platform's requests (the HIS picks up and marks) ------------------------------

    async def requests(self, **where) -> list[dict]:
        """Rows of the request table, in the order written (``where``: column = value)."""
        sql = f"SELECT * FROM {self.t('request')}"
        if where:
            sql += " WHERE " + " AND ".join(f"{k} = %s" for k in where)
        return await self.rows(sql + " ORDER BY id", *where.values())

    async def process(self, *, limit: int = 100) -> list[dict]:
        """Pick up the ``NEW`` requests in order (``TAKEN``), then accept each (``DONE`` with a
        number) or, for those in ``reject`` (by request id or booking id), refuse it (``ERROR``)."""
        async with self.connection() as conn, conn.cursor(aiomysql.DictCursor) as cur:
            await cur.execute(f"SELECT * FROM {self.t('request')} WHERE status = 'NEW' ORDER BY id LIMIT %s FOR UPDATE",
                              (limit,))
            taken = list(await cur.fetchall())
            for row in taken:
                await cur.execute(f"UPDATE {self.t('request')} SET status = 'TAKEN' WHERE id = %s", (row["id"],))
            await conn.commit()
        done = []
        for row in taken:
            reason = self.reject.get(row["request_id"]) or self.reject.get(row["booking_id"])
            if reason:
                status, number, message = "ERROR", "", reason
            else:
                number = row["booking_his_no"] if row["action"] in ("CANCEL", "MOVE") and row["booking_his_no"] else \
                    f"{ {'BOOK': 'GH', 'PAY': 'SF', 'REFUND': 'TF'}.get(row['action'], 'GH') }{next(self._numbers):06d}"
                status, message = "DONE", {"BOOK": "预约已登记", "CANCEL": "预约已取消", "MOVE": "已改约",
                                           "PAY": "已收费", "REFUND": "已退费"}.get(row["action"], "已受理")
            await self.execute(f"UPDATE {self.t('request')} SET status = %s, his_no = %s, his_message = %s, "
                               "processed_at = NOW(3) WHERE id = %s", status, number, message, row["id"])
            done.append({**row, "status": status, "his_no": number, "his_message": message})
        return done

    async def serve(self, interval: float = 0.2) -> None:
        """Process requests as they come, until cancelled (the demo's hospital)."""
        while True:
            await self.process()
            await asyncio.sleep(interval)

    # --- visits and fee items (the HIS writes) -----------------------------------------------

    async def visit(self, hospital_code: str, booking_id: str, outcome: str, *, day: date, at: datetime | None = None,
                    his_no: str = "") -> None:
        """Record that a booking's patient checked in (``CHECKED_IN``), was seen (``SEEN``) or did
        not come (``NO_SHOW``); ``at`` in the hospital's local time."""
        await self.execute(f"INSERT INTO {self.t('visit')} (hospital_code, booking_id, his_no, clinic_date, outcome, "
                           "event_time) VALUES (%s,%s,%s,%s,%s,%s)", hospital_code, booking_id, his_no, day, outcome, at)

    async def fee_item(self, hospital_code: str, item_no: str, *, kind: str, name: str, amount_fen: int,
                       id_number: str = "", card_no: str = "", visit_no: str = "", booking_id: str = "",
                       quantity: str = "1", department: str = "", patient_name: str = "") -> None:
        await self.execute(
            f"INSERT INTO {self.t('fee_item')} (hospital_code, item_no, visit_no, booking_id, patient_id_number, "
            "patient_card_no, patient_name, kind, item_name, quantity, amount_fen, department_name) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            hospital_code, item_no, visit_no, booking_id, id_number, card_no, patient_name, kind, name, quantity,
            amount_fen, department)

    async def fee_paid(self, hospital_code: str, item_no: str, status: str = "PAID") -> None:
        await self.execute(f"UPDATE {self.t('fee_item')} SET status = %s WHERE hospital_code = %s AND item_no = %s",
                           status, hospital_code, item_no)
