"""All core tables, importable from one place (Alembic and tests import this)."""

from tenants.models import City, CityHost, CityPlugin, District, TenantModel

from .audit import AuditEntry
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
from .members import CreditEvent, Member
from .outbox import Notification, OutboxMessage
from .plugins import HospitalPlugin
from .staff import HOSPITAL_ROLES, SsoProvider, StaffAccount, StaffRole, VendorAccount
from .backoffice import Referral, ScheduleChange, ScheduleTemplate
from .reports import BookingStatsDaily, ChannelStatsDaily, PeriodStatsDaily, ReportRollup, SlotStatsDaily
from .reports import BookingStatsMonthly, ChannelStatsMonthly, PeriodStatsMonthly, SlotStatsMonthly

__all__ = [name for name in dir() if not name.startswith("_")]
