"""Test data built through the same services the product uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta

from guahao.core.catalogue.schedule import PeriodSpec, create_session
from guahao.core.models import Campus, ClinicSession, Department, Doctor, Hospital, Period, RegistrationType, SlotPool
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, use_city
from guahao.tenants.service import configure_plugin, create_city

BUILTIN_PLUGINS = ("pay_at_hospital", "demo_his", "message_log")


async def make_city(rt, slug: str, **rules) -> CityContext:
    ctx = await create_city(
        rt.db,
        slug=slug,
        name=f"测试市 {slug}",
        rules=rules or None,
        districts=[("01", "东城区"), ("02", "西城区")],
    )
    for plugin in BUILTIN_PLUGINS:
        await configure_plugin(rt.db, ctx, plugin)
    return ctx


@dataclass
class Catalogue:
    city: CityContext
    hospital: Hospital
    campus: Campus
    department: Department
    doctor: Doctor
    doctor2: Doctor
    reg_type: RegistrationType
    sessions: list[ClinicSession] = field(default_factory=list)
    periods: dict[int, list[Period]] = field(default_factory=dict)  # session id → periods
    pools: dict[int, list[SlotPool]] = field(default_factory=dict)  # period id → pools
    campus2: Campus | None = None  # the second campus, when made with ``second_campus``

    def public_pool(self, period_id: int) -> SlotPool:
        return next(p for p in self.pools[period_id] if p.pool == "public")


async def make_catalogue(
    rt,
    city: CityContext,
    *,
    days_ahead: int = 3,
    periods: int = 2,
    capacity: int = 2,
    payment_mode: str = "at_hospital",
    extra_pools: dict[str, int] | None = None,
    address: str = "",
    second_campus: tuple[str, str] | None = None,
) -> Catalogue:
    """A hospital with one department, two doctors and one morning session per doctor on
    ``days_ahead`` days from today (local), each with ``periods`` periods of ``capacity``.

    The hospital's address is ``address``. With ``second_campus`` (name, address) the hospital
    has a second campus (``Catalogue.campus2``) and the second doctor's sessions are held there;
    otherwise every session is at the main campus, 本部."""
    from sqlalchemy import select

    with use_city(city):
        async with rt.db.transaction() as s:
            h = Hospital(code="H1", name="第一人民医院", short_name="市一院", payment_mode=payment_mode,
                         address=address)
            s.add(h)
            await s.flush()
            campus = Campus(hospital_id=h.id, name="本部")
            dept = Department(hospital_id=h.id, code="03.01", name="呼吸内科")
            rtype = RegistrationType(hospital_id=h.id, code="expert", name="专家", fee_fen=5000)
            s.add_all([campus, dept, rtype])
            await s.flush()
            campus2 = None
            if second_campus is not None:
                campus2 = Campus(hospital_id=h.id, name=second_campus[0], address=second_campus[1])
                s.add(campus2)
                await s.flush()
            d1 = Doctor(hospital_id=h.id, department_id=dept.id, name="王建国", title="chief", specialty="哮喘")
            d2 = Doctor(hospital_id=h.id, department_id=dept.id, name="李秀英", title="attending")
            s.add_all([d1, d2])
            await s.flush()
            cat = Catalogue(city, h, campus, dept, d1, d2, rtype, campus2=campus2)
            today = utcnow().astimezone(city.tz).date()
            pools = {"public": capacity, **(extra_pools or {})}
            for offset in range(1, days_ahead + 1):
                day = today + timedelta(days=offset)
                for doc in (d1, d2):
                    specs = [
                        PeriodSpec(time(8 + i, 0), time(8 + i, 30), dict(pools)) for i in range(periods)
                    ]
                    cs = await create_session(
                        s, hospital=h, doctor=doc, registration_type=rtype,
                        campus_id=campus2.id if campus2 is not None and doc is d2 else campus.id,
                        day=day, half_day="am", periods=specs,
                    )
                    cat.sessions.append(cs)
            for cs in cat.sessions:
                ps = (await s.scalars(select(Period).where(Period.session_id == cs.id).order_by(Period.start))).all()
                cat.periods[cs.id] = list(ps)
                for p in ps:
                    cat.pools[p.id] = list((await s.scalars(select(SlotPool).where(SlotPool.period_id == p.id))).all())
    return cat
