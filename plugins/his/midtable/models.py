"""The adapter's own tables on the platform's side.

- ``midtable_marks``: per hospital and HIS-written table, how far it has been read: the highest
  row version processed and the versions below it not seen yet (gaps: changes whose transaction
  had not committed when we read, looked for again on every read until ``gap_hours`` pass).
- ``midtable_rows``: the latest version of every row read (schedules, visits, fee items), so a
  pull answers for any date range or patient without reading the hospital's tables again, and a
  pull whose result could not be applied is answered the same next time.

No full ID number is kept: fee items are found by a hash of the patient's number or card.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field

from guahao.plugin_api import TenantModel, utcnow


class MidtableMark(TenantModel, table=True):
    """How far one HIS-written table of one hospital has been read."""

    __tablename__ = "midtable_marks"
    __table_args__ = (UniqueConstraint("city_id", "hospital_code", "table_name", name="uq_midtable_marks"),)

    id: int | None = Field(default=None, primary_key=True)
    hospital_code: str = Field(max_length=40)
    table_name: str = Field(max_length=20)  # schedule | visit | fee_item
    source: str = Field(default="", max_length=200)  # host:port/database the mark belongs to
    mark: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    gaps: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # version → first missed (ISO)
    rows_read: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    read_at: datetime | None = None


class MidtableRow(TenantModel, table=True):
    """The latest version read of one row of a HIS-written table."""

    __tablename__ = "midtable_rows"
    __table_args__ = (
        UniqueConstraint("city_id", "hospital_code", "table_name", "row_key", name="uq_midtable_rows"),
        Index("ix_midtable_rows_day", "city_id", "hospital_code", "table_name", "day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    hospital_code: str = Field(max_length=40)
    table_name: str = Field(max_length=20)
    row_key: str = Field(max_length=64)  # the HIS row's id
    version: int = Field(sa_column=Column(BigInteger, nullable=False))
    day: date | None = None
    booking_id: str = Field(default="", max_length=24)
    patient_key: str = Field(default="", max_length=64)  # sha256 of the ID number or card (fee items)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    read_at: datetime = Field(default_factory=utcnow)
