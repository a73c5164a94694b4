"""Who is asking and what they may touch: principals, role capabilities and scope checks.

Every console request is answered for a :class:`Principal`. A capability (``"staff.manage"``)
says what a role may do at all; a scope check says whether one object is within the
principal's reach. A missing capability is 403 (the person knows the page exists); an object
outside the scope is 404, exactly like an object that does not exist, so guessing ids teaches
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from guahao.core.audit import Actor
from guahao.core.errors import Forbidden, NotFound
from guahao.core.models import Hospital
from guahao.core.models.staff import HOSPITAL_ROLES, StaffAccount, StaffRole, VendorAccount

R = StaffRole

# What each role may do. Pages name one capability; the navigation shows only what is allowed.
CAPABILITIES: dict[str, frozenset[str]] = {
    R.vendor_admin: frozenset({
        "vendor.manage", "city.configure", "staff.manage", "audit.view", "hospital.manage", "schedule.manage",
        "bookings.view", "bookings.checkin", "complaints.handle", "reports.view", "import.run", "agent.assist",
        "licensing.view", "licensing.declare", "deliveries.manage", "scalpers.view", "broadcasts.send",
    }),
    R.city_admin: frozenset({
        "city.configure", "staff.manage", "audit.view", "hospital.manage", "schedule.manage", "bookings.view",
        "bookings.checkin", "complaints.handle", "reports.view", "import.run", "licensing.view", "licensing.declare",
        "deliveries.manage", "scalpers.view", "broadcasts.send",
    }),
    R.hospital_admin: frozenset({
        "staff.manage", "hospital.manage", "schedule.manage", "bookings.view", "bookings.checkin",
        "complaints.handle", "reports.view", "deliveries.manage", "broadcasts.send",
    }),
    R.scheduler: frozenset({"schedule.manage", "bookings.view", "bookings.checkin"}),
    R.doctor: frozenset({"booking.clinic", "bookings.view"}),
    R.agent: frozenset({"agent.assist", "bookings.view", "complaints.handle"}),
    R.referral_clerk: frozenset({"booking.referral", "bookings.view"}),
    R.bureau_viewer: frozenset({"reports.view"}),
}

# Roles each managing role may create and edit (a hospital admin: its own hospital's staff).
MANAGEABLE_ROLES: dict[str, tuple[str, ...]] = {
    R.vendor_admin: tuple(r.value for r in StaffRole if r is not R.vendor_admin),
    R.city_admin: tuple(r.value for r in StaffRole if r is not R.vendor_admin),
    R.hospital_admin: (R.scheduler.value, R.doctor.value),
}


@dataclass(frozen=True)
class Principal:
    """The person behind a console request.

    Parameters:
        kind: ``"staff"`` (an account of one city) or ``"vendor"`` (the platform vendor).
        id: the account id.
        name: display name.
        role: a :class:`StaffRole` value (``vendor_admin`` for the vendor).
        city_id: the staff member's city; ``None`` for the vendor (every city).
        hospital_id, doctor_id: the hospital (and doctor) a hospital role is bound to.
        district_ids: a bureau viewer's districts (empty: the whole city).
    """

    kind: str
    id: int
    name: str
    role: str
    city_id: int | None = None
    hospital_id: int | None = None
    doctor_id: int | None = None
    district_ids: tuple[int, ...] = field(default_factory=tuple)
    username: str = ""

    @classmethod
    def of_staff(cls, a: StaffAccount) -> "Principal":
        return cls("staff", a.id, a.display_name, a.role, a.city_id, a.hospital_id, a.doctor_id,
                   tuple(a.district_ids or ()), a.username)

    @classmethod
    def of_vendor(cls, a: VendorAccount) -> "Principal":
        return cls("vendor", a.id, a.display_name, R.vendor_admin.value, username=a.username)

    @property
    def is_vendor(self) -> bool:
        return self.kind == "vendor"

    @property
    def capabilities(self) -> frozenset[str]:
        return CAPABILITIES.get(self.role, frozenset())

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def actor(self, ip: str = "") -> Actor:
        """The audit actor for actions this principal takes."""
        return Actor(self.kind, self.id, self.name, self.role, ip)


def require(principal: Principal, capability: str) -> None:
    """Raise 403 unless the principal's role has ``capability``."""
    if not principal.can(capability):
        raise Forbidden("forbidden", "您的角色无权进行此操作 / your role may not do this",
                        details={"capability": capability})


def may_enter_city(principal: Principal, city_id: int) -> bool:
    """The vendor enters every city; staff only their own."""
    return principal.is_vendor or principal.city_id == city_id


async def hospital_ids_in_scope(session: AsyncSession, principal: Principal) -> set[int] | None:
    """Hospitals of the current city the principal may see; ``None`` means all of them."""
    if principal.role in HOSPITAL_ROLES:
        return {principal.hospital_id} if principal.hospital_id else set()
    if principal.role == R.bureau_viewer and principal.district_ids:
        rows = await session.scalars(select(Hospital.id).where(Hospital.district_id.in_(principal.district_ids)))
        return set(rows.all())
    return None


async def check_hospital(session: AsyncSession, principal: Principal, hospital_id: int | None) -> Hospital:
    """The hospital if it exists in the city and in the principal's scope, else 404."""
    hospital = await session.get(Hospital, hospital_id) if hospital_id else None
    scope = await hospital_ids_in_scope(session, principal)
    if hospital is None or (scope is not None and hospital.id not in scope):
        raise NotFound("hospital", code="hospital_not_found")
    return hospital


def manageable_roles(principal: Principal) -> tuple[str, ...]:
    return MANAGEABLE_ROLES.get(principal.role, ()) if principal.can("staff.manage") else ()


def check_account(principal: Principal, account: StaffAccount) -> StaffAccount:
    """An account the principal may manage, else 404 (another hospital's, a higher role)."""
    if account.role not in manageable_roles(principal):
        raise NotFound("staff account", code="staff_not_found")
    if principal.role == R.hospital_admin and account.hospital_id != principal.hospital_id:
        raise NotFound("staff account", code="staff_not_found")
    if principal.kind == "staff" and account.id == principal.id:
        raise NotFound("staff account", code="staff_not_found")
    return account
