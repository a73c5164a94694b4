"""Health-bureau reports (卫生局监控统计, R13): one function per report, each taking the
session and a :class:`ReportFilter` and answering a small typed :class:`Report`.

Every report runs in the current city; the filter's districts and hospitals are mandatory
``WHERE`` clauses, which is how a bureau viewer is held to their region. Counting happens in
the database, over daily rollups for closed days and the live tables for the rest
(:mod:`core.reports.rollup`).
"""

from .base import ChartHint, Column, Report, ReportFilter
from .bookings import BOOKING_GROUPS, NO_SHOW_GROUPS, REFERRAL_GROUPS, bookings_report, no_show_report, referral_report
from .export import to_csv, to_xlsx
from .feedback import COMPLAINT_GROUPS, SATISFACTION_GROUPS, complaints_report, satisfaction_report
from .rollup import RefreshResult, coverage, refresh_rollups
from .slots import COMPARISON_GROUPS, SLOT_GROUPS, comparison_report, slot_report

REPORTS = {
    "bookings": bookings_report,
    "no_show": no_show_report,
    "slots": slot_report,
    "complaints": complaints_report,
    "satisfaction": satisfaction_report,
    "referrals": referral_report,
    "comparison": comparison_report,
}
# The groupings each report accepts, first the default (for the console's choosers).
GROUPS = {
    "bookings": BOOKING_GROUPS,
    "no_show": NO_SHOW_GROUPS,
    "slots": SLOT_GROUPS,
    "complaints": COMPLAINT_GROUPS,
    "satisfaction": SATISFACTION_GROUPS,
    "referrals": REFERRAL_GROUPS,
    "comparison": COMPARISON_GROUPS,
}

__all__ = [
    "GROUPS", "REPORTS", "ChartHint", "Column", "RefreshResult", "Report", "ReportFilter", "bookings_report",
    "comparison_report", "complaints_report", "coverage", "no_show_report", "referral_report",
    "refresh_rollups", "satisfaction_report", "slot_report", "to_csv", "to_xlsx",
]
