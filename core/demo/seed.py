"""Seeding the demo city 示例市 (``guahao demo``, ``guahao seed-demo``).

Deterministic: names, titles and rosters come from a fixed random seed, so two fresh
databases get the same hospitals and doctors. Only the dates move with today. Running it
again on an existing demo city adds the days its schedule lacks, so a demo that has been
running for a week still offers two weeks of slots.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, func, select, text
from sqlmodel import SQLModel

from guahao.core.members.ids import check_digit
from guahao.core.models import (
    Campus,
    City,
    CityHost,
    ClinicSession,
    Department,
    District,
    Doctor,
    Hospital,
    Member,
    RegistrationType,
    TenantModel,
)
from guahao.tenants import append_only
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, use_city
from guahao.tenants.db import make_engine
from guahao.tenants.service import configure_plugin, create_city, get_city

from . import data
from .content import seed_content
from .history import HISTORY_DAYS, HistoryReport, refresh_history_rollups, seed_history
from .roster import RosterDoctor, insert_schedule
from .staff import seed_staff, seed_vendor

DEMO_SEED = 20240607
DAYS = 14
ANALYZED_TABLES = ("hospitals", "departments", "doctors", "clinic_sessions", "periods", "slot_pools", "members",
                   "bookings", "booking_events", "notifications")


@dataclass
class SeedReport:
    """What a seed run did, for the CLI to print."""

    city: CityContext
    created: bool  # the catalogue was built now (False: it existed; only days were added)
    hospitals: int
    departments: int
    doctors: int
    sessions: int
    sessions_added: int
    periods_added: int
    pools_added: int
    first_day: date | None
    last_day: date | None
    seconds: float
    history: HistoryReport | None = None  # the past months written with a new city


def demo_id_number(member: data.DemoMember) -> str:
    return member.id_first17 + check_digit(member.id_first17)


def demo_logins() -> list[dict]:
    """The demo members' credentials (public on purpose: it is a demo)."""
    return [
        {"name": m.name, "phone": m.phone, "id_number": demo_id_number(m), "password": m.password}
        for m in data.MEMBERS
    ]


def local_today(city: CityContext) -> date:
    return utcnow().astimezone(city.tz).date()


async def seed_demo(
    rt,
    *,
    slug: str = data.CITY_SLUG,
    name: str = data.CITY_NAME,
    days: int = DAYS,
    today: date | None = None,
    seed: int = DEMO_SEED,
    history_days: int | None = None,
) -> SeedReport:
    """Create and fill the demo city if it is missing; otherwise top up its schedule.

    Parameters:
        rt: the runtime (:class:`core.runtime.Runtime`); only its database is used.
        slug, name: the city (tests seed under their own slug).
        days: days of sessions from ``today`` (local date of the city), inclusive.
        seed: the random seed; the same seed gives the same catalogue.
        history_days: days of past activity written when the city is created
            (:mod:`core.demo.history`); by default ``HISTORY_DAYS`` for the full demo, none
            when fewer than ``DAYS`` days are asked for (a catalogue-only or quick seed).
    """
    started = time.perf_counter()
    db = rt.db
    city = await get_city(db, slug)
    if city is None:
        city = await create_city(
            db, slug=slug, name=name, timezone=data.TIMEZONE, rules=data.RULES, districts=data.DISTRICTS
        )
        for plugin, settings in data.PLUGINS.items():
            await configure_plugin(db, city, plugin, settings=settings, secrets=data.PLUGIN_SECRETS.get(plugin))
        city = await get_city(db, slug)
    today = today or local_today(city)
    if history_days is None:
        history_days = HISTORY_DAYS if days >= DAYS else 0
    history = None
    wanted = [today + timedelta(days=i) for i in range(days)]
    with use_city(city):
        async with db.transaction() as s:
            created = not await s.scalar(select(func.count()).select_from(Hospital))
            if created:
                await _build_catalogue(s, random.Random(seed))
                await _register_members(s)
                await seed_content(s)
            await seed_staff(s)
            last = await s.scalar(select(func.max(ClinicSession.date)))
            missing = [d for d in wanted if last is None or d > last]
            doctors = await _roster(s)
            if created and history_days > 0:
                history = await seed_history(
                    s, city, doctors, today=today, days=history_days, seed=seed, now=utcnow(),
                    public_base_url=rt.settings.public_base_url,
                )
            added = await insert_schedule(s, city, doctors, missing, seed=seed)
            counts = [
                await s.scalar(select(func.count()).select_from(model))
                for model in (Hospital, Department, Doctor, ClinicSession)
            ]
            first_day = await s.scalar(select(func.min(ClinicSession.date)))
            last_day = await s.scalar(select(func.max(ClinicSession.date)))
    await seed_vendor(db)
    if created:
        await _register_kiosk(db, city)
        await _seed_plugins(rt, city)
    if added[0] or history is not None:
        await _refresh_statistics(rt.settings)
    if history is not None:
        await refresh_history_rollups(rt, city)
    return SeedReport(
        city, created, *counts, *added, first_day, last_day, time.perf_counter() - started, history=history
    )


async def _register_kiosk(db, city: CityContext) -> None:
    """The demo terminal in the first hospital's outpatient hall (``web`` setting ``kiosk_terminals``)."""
    with use_city(city):
        async with db.transaction() as s:
            hospital_id = await s.scalar(select(Hospital.id).where(Hospital.code == data.KIOSK_HOSPITAL))
    terminal = {"hospital_id": hospital_id, "name": data.KIOSK_NAME}
    await configure_plugin(db, city, "web", settings={**data.PLUGINS["web"], "kiosk_terminals": {data.KIOSK_TERMINAL: terminal}})


async def _seed_plugins(rt, city: CityContext) -> None:
    """The city's plugins add their own demo data (``guahao_demo_seed``: a licence, usage…)."""
    from guahao.core.plugins.manager import call_robust

    plugins = await rt.plugins.for_city(city)
    with use_city(city):
        await call_robust(plugins.hook.guahao_demo_seed, rt=rt, city=city)


async def _refresh_statistics(settings) -> None:
    """Planner statistics after a bulk load: until autovacuum gets round to it, PostgreSQL
    plans the first queries as if the new rows did not exist (nested loops over thousands).
    ANALYZE needs the tables' owner, hence the owner connection."""
    if not settings.is_postgres:
        return
    engine = make_engine(settings.owner_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"ANALYZE {', '.join(ANALYZED_TABLES)}"))
    finally:
        await engine.dispose()


async def drop_city(rt, slug: str) -> bool:
    """Delete a city and every row it owns (``guahao demo --reset``). False if it did not exist."""
    db = rt.db
    city = await get_city(db, slug)
    if city is None:
        return False
    by_table = {
        m.class_.__tablename__: m.class_
        for m in SQLModel._sa_registry.mappers
        if issubclass(m.class_, TenantModel)
    }
    kept = sorted(name for name, model in by_table.items() if getattr(model, "__append_only__", False))
    await append_only.erase_city(rt.settings, kept, city.id)  # the ledger: only its owner may
    for name in kept:
        del by_table[name]
    with use_city(city):
        async with db.transaction() as s:
            # Children first; the ORM wall limits each delete to this city.
            for table in reversed(SQLModel.metadata.sorted_tables):
                model = by_table.get(table.name)
                if model is not None:
                    await s.execute(delete(model))
    async with db.transaction() as s:
        await s.execute(delete(CityHost).where(CityHost.city_id == city.id))
        await s.execute(delete(City).where(City.id == city.id))
    return True


async def _build_catalogue(s, rng: random.Random) -> None:
    """Hospitals, campuses, departments, registration types and doctors, in four flushes."""
    districts = {d.code: d.id for d in (await s.scalars(select(District))).all()}
    hospitals = []
    for spec in data.HOSPITALS:
        hospitals.append(
            Hospital(
                code=spec.code,
                name=spec.name,
                short_name=spec.short_name,
                kind=spec.kind,
                level=spec.level,
                grade=spec.grade,
                district_id=districts.get(spec.district),
                address=spec.address,
                phone=spec.phone,
                description=spec.description,
                payment_mode="at_hospital",  # the served demo turns some online (core.demo.practice)
                his_adapter="hl7v2" if spec.code in data.HL7V2_HOSPITALS else "",
            )
        )
    s.add_all(hospitals)
    await s.flush()

    departments: list[tuple[data.HospitalSpec, Department]] = []
    for spec, h in zip(data.HOSPITALS, hospitals, strict=False):
        for cname, caddress in spec.campuses or (("本部", spec.address),):
            s.add(Campus(hospital_id=h.id, name=cname, address=caddress))
        for code, fee in spec.fees.items():
            s.add(RegistrationType(hospital_id=h.id, code=code, name=data.REGISTRATION_TYPE_NAMES[code], fee_fen=fee))
        for code in spec.departments:
            dname, description = data.DEPARTMENTS[code]
            dept = Department(hospital_id=h.id, code=code, name=dname, description=description)
            s.add(dept)
            departments.append((spec, dept))
    await s.flush()

    used: set[str] = set()
    doctors = []
    for spec, dept in departments:
        for i in range(rng.randint(*spec.doctors)):
            title = _title(rng, spec, first=i == 0)
            doctors.append(_doctor(rng, used, spec, dept, title))
    s.add_all(doctors)
    await s.flush()


def _title(rng: random.Random, spec: data.HospitalSpec, *, first: bool) -> str:
    if spec.kind == "community":
        return rng.choice(("associate_chief", "attending", "attending", "resident"))
    if first:  # every department of a hospital has an expert clinic
        return rng.choice(("chief", "associate_chief"))
    titles, weights = zip(*data.TITLES, strict=False)
    return rng.choices(titles, weights)[0]


def _doctor(rng: random.Random, used: set[str], spec: data.HospitalSpec, dept: Department, title: str) -> Doctor:
    while True:
        given = "".join(rng.choice(data.GIVEN) for _ in range(1 if rng.random() < 0.35 else 2))
        name = rng.choice(data.SURNAMES) + given
        if name not in used:
            used.add(name)
            break
    pool = data.SPECIALTIES.get(dept.code, [dept.name])
    specialty = "、".join(rng.sample(pool, min(len(pool), rng.randint(1, 3))))
    years = {"chief": (20, 35), "associate_chief": (12, 24), "attending": (6, 14), "resident": (2, 5)}[title]
    intro = (
        f"{name}，{data.TITLE_NAMES[title]}，在{spec.short_name}{dept.name}从事临床工作"
        f"{rng.randint(*years)}年。擅长{specialty}的诊治。"
    )
    if title == "chief" and spec.level == 3:
        intro += rng.choice(("医学博士，硕士研究生导师。", "医学博士，博士研究生导师。", "省医学会专科分会委员。"))
    return Doctor(
        hospital_id=dept.hospital_id, department_id=dept.id, name=name, title=title, specialty=specialty, introduction=intro
    )


async def _roster(s) -> list[RosterDoctor]:
    """Every doctor with what the roster builder needs, read back from the database."""
    specs = {spec.code: spec for spec in data.HOSPITALS}
    hospitals = {h.id: h for h in (await s.scalars(select(Hospital))).all()}
    departments = {d.id: d for d in (await s.scalars(select(Department))).all()}
    campuses: dict[int, list[int]] = {}
    for c in (await s.scalars(select(Campus).order_by(Campus.id))).all():
        campuses.setdefault(c.hospital_id, []).append(c.id)
    types: dict[int, dict[str, RegistrationType]] = {}
    for t in (await s.scalars(select(RegistrationType))).all():
        types.setdefault(t.hospital_id, {})[t.code] = t
    out = []
    for doc in (await s.scalars(select(Doctor).where(Doctor.active.is_(True)).order_by(Doctor.id))).all():
        h = hospitals[doc.hospital_id]
        spec = specs.get(h.code)
        out.append(
            RosterDoctor(
                id=doc.id,
                key=f"{h.code}:{departments[doc.department_id].code}:{doc.name}",
                hospital_id=h.id,
                hospital_kind=h.kind,
                hospital_level=h.level,
                department_id=doc.department_id,
                title=doc.title,
                campus_ids=tuple(campuses[h.id]),
                type_ids={code: t.id for code, t in types[h.id].items()},
                fees={code: t.fee_fen for code, t in types[h.id].items()},
                evening=bool(spec and spec.evening),
            )
        )
    return out


async def _register_members(s) -> None:
    from guahao.core.members.service import register

    for m in data.MEMBERS:
        if await s.scalar(select(Member.id).where(Member.phone == m.phone)) is None:
            await register(
                s, name=m.name, id_number=demo_id_number(m), phone=m.phone, password=m.password, registered_by="demo"
            )
