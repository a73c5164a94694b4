"""Weekly templates → sessions (R11.1) and pool edits: capacities, release to public (R2.4)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from guahao.core import audit
from guahao.core.backoffice import pools, templates
from guahao.core.backoffice.templates import TemplateInput
from guahao.core.booking import engine
from guahao.core.errors import DomainError
from guahao.core.models import ClinicSession, Period, SlotPool, WaitlistEntry
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.core.booking.helpers import make_member, reserve, run


def tuesday_morning(cat, **kw) -> TemplateInput:
    today = utcnow().astimezone(cat.city.tz).date()
    return TemplateInput(
        doctor_id=cat.doctor.id, campus_id=cat.campus.id, registration_type_id=cat.reg_type.id, weekday=1,
        half_day="am", period_count=8, pools={"public": 3, "onsite": 1}, pool_release_hours_before=2,
        valid_from=today, **kw,
    )


async def sessions_of(rt, city, ids):
    with use_city(city):
        async with rt.db.transaction() as s:
            return list((await s.scalars(select(ClinicSession).where(ClinicSession.id.in_(ids)))).all())


async def test_templates_generate_sessions_once_and_skip_holidays(rt, city, catalogue, scheduler):
    cat = catalogue
    today = utcnow().astimezone(city.tz).date()
    with use_city(city):
        t = await templates.create_template(rt, cat.hospital.id, tuesday_morning(cat), actor=scheduler)
        with pytest.raises(DomainError) as err:
            await templates.create_template(rt, cat.hospital.id, tuesday_morning(cat), actor=scheduler)
        assert err.value.code == "template_overlap"
        evening = tuesday_morning(cat).model_copy(update={"half_day": "evening", "weekday": 4, "period_count": 3,
                                                          "doctor_id": cat.doctor2.id})
        await templates.create_template(rt, cat.hospital.id, evening, actor=scheduler)
        start, end = today + timedelta(days=7), today + timedelta(days=27)  # three whole weeks
        tuesdays = [start + timedelta(days=i) for i in range(21) if (start + timedelta(days=i)).weekday() == 1]
        result = await templates.generate_sessions(rt, cat.hospital.id, start, end, actor=scheduler,
                                                   holidays=[tuesdays[1]])
        assert (result.created, result.skipped_holidays, result.skipped_existing) == (5, 1, 0)
        again = await templates.generate_sessions(rt, cat.hospital.id, start, end, actor=scheduler)
        assert (again.created, again.skipped_existing) == (1, 5)
        made = await sessions_of(rt, city, result.session_ids)
        mornings = [cs for cs in made if cs.half_day == "am"]
        assert sorted(cs.date for cs in mornings) == [tuesdays[0], tuesdays[2]]
        async with rt.db.transaction() as s:
            periods = (await s.scalars(select(Period).where(Period.session_id == mornings[0].id).order_by(Period.start))).all()
            pool_rows = (await s.scalars(select(SlotPool).where(SlotPool.session_id == mornings[0].id))).all()
            entries = await audit.search(s, action="schedule.generate")
        assert len(periods) == 8 and f"{periods[0].start:%H:%M}-{periods[0].end:%H:%M}" == "08:00-08:30"
        onsite = [p for p in pool_rows if p.pool == "onsite"]
        assert len(onsite) == 8 and onsite[0].release_to_public_at == periods[0].starts_at - timedelta(hours=2)
        assert sum(p.capacity for p in pool_rows if p.pool == "public") == 24
        assert [e.after["created"] for e in entries] == [1, 5]

        await templates.set_template_active(rt, t.id, False, actor=scheduler)
        assert t.id not in [x.id for x in await templates.list_templates(rt, cat.hospital.id, active_only=True)]
        for bad, code in (
            ({"pools": {"vip": 2}}, "invalid_pools"),
            ({"period_count": 48, "half_day": "evening"}, "invalid_period_count"),
            ({"valid_until": today - timedelta(days=1)}, "invalid_dates"),
            ({"doctor_id": 10**9}, "not_found"),
        ):
            with pytest.raises(DomainError) as err:
                await templates.update_template(rt, t.id, tuesday_morning(cat).model_copy(update=bad), actor=scheduler)
            assert err.value.code == code
        with pytest.raises(DomainError) as err:
            await templates.generate_sessions(rt, cat.hospital.id, start, start + timedelta(days=200), actor=scheduler)
        assert err.value.code == "invalid_range"


async def test_capacities_never_drop_below_bookings_and_new_units_go_to_the_waitlist(rt, city, catalogue, scheduler):
    cs = catalogue.sessions[0]
    first, second = catalogue.periods[cs.id]
    for period in (first, second):
        for _ in range(2):
            await reserve(rt, city, await make_member(rt, city), period.id)
    waiter = await make_member(rt, city)
    await run(rt, city, engine.join_waitlist, member_id=waiter, session_id=cs.id)
    with use_city(city):
        with pytest.raises(DomainError) as err:
            await pools.set_capacities(rt, first.id, {"public": 1}, actor=scheduler)
        assert err.value.code == "capacity_below_booked" and err.value.details["booked"] == 2
        after = await pools.set_capacities(rt, first.id, {"public": 3, "clinic": 2}, actor=scheduler,
                                           hospital_id=catalogue.hospital.id)
        assert after == {"public": 3, "clinic": 2}
        async with rt.db.transaction() as s:
            entry = await s.scalar(select(WaitlistEntry).where(WaitlistEntry.member_id == waiter))
            [logged] = await audit.search(s, action="pool.capacity")
        assert entry.status == "offered"
        assert logged.before == {"public": 2} and logged.after == {"public": 3, "clinic": 2}

        moved = await pools.release_to_public(rt, first.id, "clinic", actor=scheduler)
        assert moved == 2
        async with rt.db.transaction() as s:
            caps = {p.pool: (p.capacity, p.booked) for p in
                    (await s.scalars(select(SlotPool).where(SlotPool.period_id == first.id))).all()}
        assert caps == {"public": (5, 3), "clinic": (0, 0)}
        with pytest.raises(DomainError) as err:
            await pools.release_to_public(rt, first.id, "clinic", actor=scheduler)
        assert err.value.code == "nothing_to_release"
        with pytest.raises(DomainError) as err:
            await pools.release_to_public(rt, first.id, "public", actor=scheduler)
        assert err.value.code == "invalid_pool"
        with pytest.raises(DomainError) as err:
            await pools.set_capacities(rt, first.id, {"public": 9}, actor=scheduler,
                                       hospital_id=catalogue.hospital.id + 1)
        assert err.value.code == "not_found"
