"""Demo staff accounts: one per role in 示例市 and a vendor administrator.

The password is public on purpose (it is a demo), shown on the console's log-in page and
printed by ``guahao demo``. Seeding is idempotent: missing accounts are added, existing ones
are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from guahao.core import audit
from guahao.core.models import District, Doctor, Hospital
from guahao.core.models.staff import ROLE_LABELS, StaffAccount, VendorAccount

PASSWORD = "guahao-demo-1"
VENDOR_USERNAME = "vendor"


@dataclass(frozen=True)
class DemoStaff:
    username: str
    name: str
    role: str
    hospital: str | None = None  # hospital code
    doctor_of: str | None = None  # hospital code: the first doctor of that hospital
    districts: tuple[str, ...] = ()  # district codes


DEMO_STAFF = (
    DemoStaff("admin", "运营管理员 陈敏", "city_admin"),
    DemoStaff("sy01.admin", "市一院 医院管理员 刘洋", "hospital_admin", hospital="SY01"),
    DemoStaff("sy01.scheduler", "市一院 排班员 赵静", "scheduler", hospital="SY01"),
    DemoStaff("sy01.doctor", "市一院 医生", "doctor", hospital="SY01", doctor_of="SY01"),
    DemoStaff("sy02.admin", "中心医院 医院管理员 孙磊", "hospital_admin", hospital="SY02"),
    DemoStaff("agent", "坐席 周婷", "agent"),
    DemoStaff("sq01.clerk", "和平社区 转诊员 吴芳", "referral_clerk", hospital="SQ01"),
    DemoStaff("bureau", "卫生局 郑强", "bureau_viewer"),
    DemoStaff("bureau.east", "东城区卫生局 王丽", "bureau_viewer", districts=("01",)),
)

def demo_staff_logins(*, include_vendor: bool = True, city_slug: str = "demo") -> list[dict]:
    """``[{city, username, role, role_label, password}]`` of the demo accounts."""
    out = [{"city": "", "username": VENDOR_USERNAME, "role": "vendor_admin", "role_label": ROLE_LABELS["vendor_admin"],
            "password": PASSWORD}] if include_vendor else []
    out += [{"city": city_slug, "username": d.username, "role": d.role, "role_label": ROLE_LABELS[d.role],
             "password": PASSWORD} for d in DEMO_STAFF]
    return out


async def seed_staff(s) -> int:
    """Add the missing demo staff of the current city; returns how many were added."""
    from guahao.core.members.passwords import hash_password

    existing = set((await s.scalars(select(StaffAccount.username))).all())
    missing = [d for d in DEMO_STAFF if d.username not in existing]
    if not missing:
        return 0
    hospitals = {h.code: h.id for h in (await s.scalars(select(Hospital))).all()}
    districts = {d.code: d.id for d in (await s.scalars(select(District))).all()}
    password_hash = await hash_password(PASSWORD)
    for d in missing:
        hospital_id = hospitals.get(d.hospital) if d.hospital else None
        doctor_id = None
        if d.doctor_of:
            doctor_id = await s.scalar(
                select(Doctor.id).where(Doctor.hospital_id == hospitals.get(d.doctor_of)).order_by(Doctor.id).limit(1)
            )
        account = StaffAccount(
            username=d.username, display_name=d.name, role=d.role, hospital_id=hospital_id, doctor_id=doctor_id,
            district_ids=[districts[c] for c in d.districts if c in districts], password_hash=password_hash,
        )
        s.add(account)
        await s.flush()
        audit.record(s, audit.SYSTEM, "staff.create", target_type="staff", target_id=account.id,
                     summary=f"demo account {d.username}")
    return len(missing)


async def seed_vendor(db) -> bool:
    """The demo vendor administrator, if missing."""
    from guahao.core.members.passwords import hash_password

    async with db.transaction() as s:
        if await s.scalar(select(VendorAccount.id).where(VendorAccount.username == VENDOR_USERNAME)) is not None:
            return False
        s.add(VendorAccount(username=VENDOR_USERNAME, display_name="平台管理员", password_hash=await hash_password(PASSWORD)))
    return True
