"""All core tables, importable from one place (Alembic and tests import this)."""

from guahao.tenants.models import City, CityHost, CityPlugin, District, TenantModel

from .audit import AuditEntry
from .backoffice import Referral, ScheduleChange, ScheduleTemplate
from .bookings import (
    ACTIVE,
    HOLDING,
    Booking,
    BookingEvent,
    BookingStatus,
    IdempotencyRecord,
    WaitlistEntry,
    WaitlistStatus,
)
from .broadcasts import Broadcast, BroadcastMessage  # noqa: F401  (R9.3, core.broadcasts)
from .catalogue import (
    Campus,
    ClinicSession,
    Department,
    Doctor,
    DoctorTitle,
    HalfDay,
    Hospital,
    HospitalKind,
    PaymentMode,
    Period,
    PoolKind,
    RegistrationType,
    SessionStatus,
    SlotPool,
)
from .feedback import (
    Announcement,
    Article,
    Complaint,
    ComplaintStatus,
    DoctorReview,
    ReviewStatus,
    SurveyResponse,
)
from .fees import FeeOrder  # noqa: F401  (in-clinic fee payment, core.payments.fees)
from .his import HisSession, HisSyncRun  # noqa: F401  (HIS schedule sync, core.his)
from .members import CreditEvent, Member, RefreshToken
from .outbox import Notification, OutboxMessage
from .plugins import HospitalPlugin
from .reconciliation import PaymentMismatch, ReconciliationRun  # noqa: F401  (R6.4, core.payments.reconcile)
from .reports import (
    BookingStatsDaily,
    BookingStatsMonthly,
    ChannelStatsDaily,
    ChannelStatsMonthly,
    PeriodStatsDaily,
    PeriodStatsMonthly,
    ReportRollup,
    SlotStatsDaily,
    SlotStatsMonthly,
)
from .staff import HOSPITAL_ROLES, LoginFailure, SsoProvider, StaffAccount, StaffRole, VendorAccount

__all__ = [
    "ACTIVE",
    "Announcement",
    "Article",
    "AuditEntry",
    "Booking",
    "BookingEvent",
    "BookingStatsDaily",
    "BookingStatsMonthly",
    "BookingStatus",
    "Campus",
    "ChannelStatsDaily",
    "ChannelStatsMonthly",
    "City",
    "CityHost",
    "CityPlugin",
    "ClinicSession",
    "Complaint",
    "ComplaintStatus",
    "CreditEvent",
    "Department",
    "District",
    "Doctor",
    "DoctorReview",
    "DoctorTitle",
    "HOLDING",
    "HOSPITAL_ROLES",
    "HalfDay",
    "Hospital",
    "HospitalKind",
    "HospitalPlugin",
    "IdempotencyRecord",
    "LoginFailure",
    "Member",
    "Notification",
    "OutboxMessage",
    "PaymentMode",
    "Period",
    "PeriodStatsDaily",
    "PeriodStatsMonthly",
    "PoolKind",
    "Referral",
    "RefreshToken",
    "RegistrationType",
    "ReportRollup",
    "ReviewStatus",
    "ScheduleChange",
    "ScheduleTemplate",
    "SessionStatus",
    "SlotPool",
    "SlotStatsDaily",
    "SlotStatsMonthly",
    "SsoProvider",
    "StaffAccount",
    "StaffRole",
    "SurveyResponse",
    "TenantModel",
    "VendorAccount",
    "WaitlistEntry",
    "WaitlistStatus",
]
