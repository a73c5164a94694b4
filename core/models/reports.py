"""Rollups for the health bureau's reports (R13).

Each daily rollup row is the SQL ``GROUP BY`` of one day of live rows at a fixed grain, and
each monthly row the sum of one month of daily rows at the same grain: a report over a year
reads about eleven monthly and thirty daily slices instead of millions of bookings. They are
derived data: ``core.reports.rollup`` rebuilds any day range idempotently (and the months it
touches), and :class:`ReportRollup` records which days a city's rollups cover; reports read
the live tables for every other day (today, the booking window, days not rolled up yet).

No foreign keys on purpose: a rollup is rebuilt by ``DELETE`` + ``INSERT … SELECT`` and only
ever holds ids copied from rows that had them.
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from guahao.tenants.clock import utcnow
from guahao.tenants.models import TenantModel


class BookingStats(SQLModel):
    """Bookings by session and pool, counted by current status.

    ``referral_centre_id`` is the referring community centre (``referrals.centre_id``) of a
    referral (社区转诊) booking, and 0 for every other booking.
    """

    hospital_id: int
    campus_id: int
    department_id: int
    doctor_id: int
    half_day: str = Field(max_length=10)
    pool: str = Field(max_length=20)
    referral_centre_id: int = 0
    bookings: int = 0
    pending: int = 0  # pending_payment or offered
    confirmed: int = 0
    checked_in: int = 0
    no_show: int = 0
    cancelled: int = 0
    expired: int = 0


class ChannelStats(SQLModel):
    """Bookings by department and channel, counted by current status."""

    hospital_id: int
    department_id: int
    channel: str = Field(max_length=20)
    bookings: int = 0
    pending: int = 0
    confirmed: int = 0
    checked_in: int = 0
    no_show: int = 0
    cancelled: int = 0
    expired: int = 0


class SlotStats(SQLModel):
    """Capacity by session and pool: ``released`` in open sessions, ``withdrawn`` in
    suspended or cancelled ones (停诊)."""

    hospital_id: int
    campus_id: int
    department_id: int
    doctor_id: int
    half_day: str = Field(max_length=10)
    pool: str = Field(max_length=20)
    released: int = 0
    withdrawn: int = 0


class PeriodStats(SQLModel):
    """Bookings by department and time period (时段 start, local time)."""

    hospital_id: int
    department_id: int
    period_start: time
    bookings: int = 0
    checked_in: int = 0
    no_show: int = 0
    cancelled: int = 0


class BookingStatsDaily(BookingStats, TenantModel, table=True):
    """:class:`BookingStats` of one visit day."""

    __tablename__ = "booking_stats_daily"
    __table_args__ = (Index("ix_booking_stats_daily_day", "city_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date


class BookingStatsMonthly(BookingStats, TenantModel, table=True):
    """:class:`BookingStats` of one month of visit days (``month``: its first day)."""

    __tablename__ = "booking_stats_monthly"
    __table_args__ = (Index("ix_booking_stats_monthly_month", "city_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    month: date


class ChannelStatsDaily(ChannelStats, TenantModel, table=True):
    """:class:`ChannelStats` of one visit day."""

    __tablename__ = "channel_stats_daily"
    __table_args__ = (Index("ix_channel_stats_daily_day", "city_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date


class ChannelStatsMonthly(ChannelStats, TenantModel, table=True):
    """:class:`ChannelStats` of one month of visit days (``month``: its first day)."""

    __tablename__ = "channel_stats_monthly"
    __table_args__ = (Index("ix_channel_stats_monthly_month", "city_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    month: date


class SlotStatsDaily(SlotStats, TenantModel, table=True):
    """:class:`SlotStats` of one day."""

    __tablename__ = "slot_stats_daily"
    __table_args__ = (Index("ix_slot_stats_daily_day", "city_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date


class SlotStatsMonthly(SlotStats, TenantModel, table=True):
    """:class:`SlotStats` of one month (``month``: its first day)."""

    __tablename__ = "slot_stats_monthly"
    __table_args__ = (Index("ix_slot_stats_monthly_month", "city_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    month: date


class PeriodStatsDaily(PeriodStats, TenantModel, table=True):
    """:class:`PeriodStats` of one day."""

    __tablename__ = "period_stats_daily"
    __table_args__ = (Index("ix_period_stats_daily_day", "city_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    day: date


class PeriodStatsMonthly(PeriodStats, TenantModel, table=True):
    """:class:`PeriodStats` of one month (``month``: its first day)."""

    __tablename__ = "period_stats_monthly"
    __table_args__ = (Index("ix_period_stats_monthly_month", "city_id", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    month: date


class ReportRollup(TenantModel, table=True):
    """The closed day range ``[rolled_from, rolled_through]`` a city's rollups cover."""

    __tablename__ = "report_rollups"
    __table_args__ = (UniqueConstraint("city_id"),)

    id: int | None = Field(default=None, primary_key=True)
    rolled_from: date | None = None
    rolled_through: date | None = None
    refreshed_at: datetime = Field(default_factory=utcnow)
