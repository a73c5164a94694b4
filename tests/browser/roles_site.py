"""Prepare the console-roles browser tests: a second city and the ids the tests aim at.

Run with the demo server's environment after the demo city is seeded
(``python -m tests.browser.roles_site FACTS.json``). It seeds a second demo city ``yi``
(乙市, with accounts of the same user names), books demo members into a session of 市一院
(SY01) and of 中心医院 (SY02), gives 中心医院 a weekly template, and writes the ids of
everything the tests try to reach from the wrong scope as JSON to ``FACTS.json``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta

from sqlalchemy import select

from guahao.core.booking import engine
from guahao.core.demo.seed import seed_demo
from guahao.core.jobs.periodic import release_pools
from guahao.core.models import (
    Campus,
    ClinicSession,
    District,
    Doctor,
    Hospital,
    Member,
    Period,
    RegistrationType,
    ScheduleTemplate,
    SlotPool,
)
from guahao.core.models.staff import StaffAccount
from guahao.core.runtime import Runtime
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from guahao.tenants.service import get_city
from guahao.tenants.settings import Settings

OTHER_CITY = ("yi", "乙市")


def _ahead(hospital_id: int):
    """Released open sessions of a hospital starting after tomorrow's cut-offs, soonest first."""
    return (select(ClinicSession)
            .where(ClinicSession.hospital_id == hospital_id, ClinicSession.status == "open",
                   ClinicSession.release_at <= utcnow(), ClinicSession.starts_at > utcnow() + timedelta(hours=20))
            .order_by(ClinicSession.starts_at, ClinicSession.id))


async def _pool_period(s, pool: str, *, doctor_id: int | None = None, hospital_id: int | None = None,
                       not_doctor: int | None = None) -> int:
    """A period ahead with free units of ``pool`` (of a doctor, or a hospital's other doctors)."""
    q = (select(Period.id).join(ClinicSession, ClinicSession.id == Period.session_id)
         .join(SlotPool, SlotPool.period_id == Period.id)
         .where(SlotPool.pool == pool, SlotPool.capacity > SlotPool.booked, ClinicSession.status == "open",
                Period.starts_at > utcnow() + timedelta(hours=20)))
    if doctor_id is not None:
        q = q.where(ClinicSession.doctor_id == doctor_id)
    if hospital_id is not None:
        q = q.where(ClinicSession.hospital_id == hospital_id)
    if not_doctor is not None:
        q = q.where(ClinicSession.doctor_id != not_doctor)
    found = await s.scalar(q.order_by(Period.starts_at, Period.id).limit(1))
    if found is None:
        raise SystemExit(f"no period with free {pool} units ahead")
    return found


async def _book(rt, session_id: int, members: list[int]) -> list[str]:
    out = []
    for member in members:
        async with rt.db.transaction() as s:
            periods = (await s.scalars(select(Period.id).where(Period.session_id == session_id)
                                       .order_by(Period.start))).all()
            out.append((await engine.reserve(s, member_id=member, period_id=periods[-1], channel="web")).id)
    return out


async def _demo_facts(rt, city) -> dict:
    with use_city(city):
        async with rt.db.transaction() as s:
            hospitals = {h.code: h for h in (await s.scalars(select(Hospital))).all()}
            districts = {d.code: d.id for d in (await s.scalars(select(District))).all()}
            staff = {a.username: a for a in (await s.scalars(select(StaffAccount))).all()}
            sy01, sy02 = hospitals["SY01"].id, hospitals["SY02"].id
            mine = (await s.scalars(_ahead(sy01).limit(1))).first()
            other = (await s.scalars(_ahead(sy02).limit(1))).first()
            members = list((await s.scalars(select(Member.id).order_by(Member.id).limit(4))).all())
            doctor_id = staff["sy01.doctor"].doctor_id
            own_clinic = await _pool_period(s, "clinic", doctor_id=doctor_id)
            colleague_clinic = await _pool_period(s, "clinic", hospital_id=sy01, not_doctor=doctor_id)
            other_clinic = await _pool_period(s, "clinic", hospital_id=sy02)
            doctor = await s.scalar(select(Doctor).where(Doctor.hospital_id == sy02).order_by(Doctor.id).limit(1))
            template = ScheduleTemplate(
                hospital_id=sy02, doctor_id=doctor.id, weekday=2, half_day="am", period_count=4,
                campus_id=await s.scalar(select(Campus.id).where(Campus.hospital_id == sy02).limit(1)),
                registration_type_id=await s.scalar(select(RegistrationType.id)
                                                    .where(RegistrationType.hospital_id == sy02).limit(1)),
                pools={"public": 4}, valid_from=utcnow().date(),
            )
            s.add(template)
            await s.flush()
            east = districts["01"]
            outside = next(h for h in sorted(hospitals.values(), key=lambda h: h.code)
                           if h.district_id not in (None, east))
            inside = next(h for h in sorted(hospitals.values(), key=lambda h: h.code) if h.district_id == east)
            facts = {
                "city_id": city.id,
                "hospitals": {code: h.id for code, h in hospitals.items()},
                "districts": districts,
                "staff": {name: a.id for name, a in staff.items()},
                "doctor_id": doctor_id,
                "own_clinic_period": own_clinic,
                "colleague_clinic_period": colleague_clinic,
                "other_clinic_period": other_clinic,
                "other_template": template.id,
                "east_district": east,
                "east_hospital": inside.id,
                "outside_district": outside.district_id,
                "outside_hospital": outside.id,
            }
    with use_city(city):
        facts["own_session"] = {"id": mine.id, "bookings": await _book(rt, mine.id, members[:2])}
        facts["other_session"] = {"id": other.id, "bookings": await _book(rt, other.id, members[2:3])}
    return facts


async def _other_facts(rt, city) -> dict:
    with use_city(city):
        async with rt.db.transaction() as s:
            hospitals = {h.code: h.id for h in (await s.scalars(select(Hospital))).all()}
            staff = {a.username: a.id for a in (await s.scalars(select(StaffAccount))).all()}
            session = (await s.scalars(_ahead(hospitals["SY01"]).limit(1))).first()
            referral = await _pool_period(s, "referral", hospital_id=hospitals["SY01"])
            district = await s.scalar(select(District.id).order_by(District.code).limit(1))
    return {"slug": city.slug, "id": city.id, "hospital": hospitals["SY01"], "staff": staff["sy02.admin"],
            "session": session.id, "referral_period": referral, "district": district}


async def main(out: str) -> None:
    rt = Runtime(Settings.from_env())
    await rt.start()
    try:
        await seed_demo(rt, slug=OTHER_CITY[0], name=OTHER_CITY[1], days=3)
        await release_pools(rt)
        facts = await _demo_facts(rt, await get_city(rt.db, "demo"))
        facts["other_city"] = await _other_facts(rt, await get_city(rt.db, OTHER_CITY[0]))
    finally:
        await rt.stop()
    with open(out, "w", encoding="utf-8") as f:
        json.dump(facts, f)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
