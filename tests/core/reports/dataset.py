"""A small hand-made city for the report tests, with numbers counted by hand.

Two hospitals in two districts and a community centre; four sessions (two closed days ten
and nine days ago, one suspended, one two days ahead); fourteen bookings in known states;
three complaints and four surveys. The expected figures in the tests follow from the table
in :func:`build`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from guahao.core.catalogue.schedule import PeriodSpec, create_session
from guahao.core.models import (
    Booking,
    Campus,
    Complaint,
    Department,
    District,
    Doctor,
    Hospital,
    Member,
    Period,
    Referral,
    RegistrationType,
    SlotPool,
    SurveyResponse,
)
from guahao.tenants.clock import utcnow
from guahao.tenants.context import CityContext, use_city

_ref = itertools.count(1)


@dataclass
class Data:
    city: CityContext
    district1: int
    district2: int
    h1: int
    h2: int
    centre: int
    d1: int
    d2: int
    campus_a: int
    campus_b: int
    past: date  # day of S1 and S2
    suspended_day: date
    future: date
    ids: dict = field(default_factory=dict)


# (session, period start, pool, channel, status, referral?)
BOOKINGS = [
    ("S1", time(8, 0), "public", "web", "checked_in", False),
    ("S1", time(8, 0), "public", "wechat", "checked_in", False),
    ("S1", time(8, 0), "public", "web", "no_show", False),
    ("S1", time(8, 30), "public", "app", "cancelled", False),
    ("S1", time(8, 30), "public", "sms", "checked_in", False),
    ("S1", time(8, 0), "referral", "referral", "checked_in", True),
    ("S1", time(8, 30), "referral", "referral", "no_show", True),
    ("S2", time(14, 0), "public", "phone", "no_show", False),
    ("S2", time(14, 0), "public", "kiosk", "checked_in", False),
    ("S2", time(14, 0), "public", "web", "cancelled", False),
    ("S2", time(14, 0), "public", "web", "expired", False),
    ("S3", time(9, 0), "public", "web", "cancelled", False),
    ("S4", time(8, 0), "public", "web", "confirmed", False),
    ("S4", time(8, 0), "public", "wechat", "confirmed", False),
]


def _period(start: time, pools: dict[str, int]) -> PeriodSpec:
    end = (datetime.combine(date(2000, 1, 1), start) + timedelta(minutes=30)).time()
    return PeriodSpec(start, end, pools)


async def build(rt, city: CityContext) -> Data:
    today = utcnow().astimezone(city.tz).date()
    with use_city(city):
        async with rt.db.transaction() as s:
            d1, d2 = (await s.scalars(select(District.id).order_by(District.code))).all()
            h1 = Hospital(code="H1", name="第一人民医院", short_name="市一院", district_id=d1)
            h2 = Hospital(code="H2", name="第二人民医院", short_name="市二院", district_id=d2)
            c1 = Hospital(code="C1", name="东城社区卫生服务中心", short_name="东城社区", kind="community", level=1,
                          district_id=d1)
            s.add_all([h1, h2, c1])
            await s.flush()
            ca, cb, c2 = Campus(hospital_id=h1.id, name="本部"), Campus(hospital_id=h1.id, name="东院"), \
                Campus(hospital_id=h2.id, name="本部")
            dep1 = Department(hospital_id=h1.id, code="03.01", name="呼吸内科")
            dep2 = Department(hospital_id=h2.id, code="12", name="儿科")
            t1 = RegistrationType(hospital_id=h1.id, code="general", name="普通", fee_fen=1000)
            t2 = RegistrationType(hospital_id=h2.id, code="general", name="普通", fee_fen=1000)
            s.add_all([ca, cb, c2, dep1, dep2, t1, t2])
            await s.flush()
            doc1 = Doctor(hospital_id=h1.id, department_id=dep1.id, name="王建国")
            doc2 = Doctor(hospital_id=h2.id, department_id=dep2.id, name="李秀英")
            s.add_all([doc1, doc2])
            await s.flush()
            data = Data(city, d1, d2, h1.id, h2.id, c1.id, dep1.id, dep2.id, ca.id, cb.id,
                        today - timedelta(days=10), today - timedelta(days=9), today + timedelta(days=2))
            specs = {
                "S1": (h1, doc1, ca.id, t1, data.past, "am",
                       [_period(time(8, 0), {"public": 3, "referral": 1}), _period(time(8, 30), {"public": 3, "referral": 1})]),
                "S2": (h2, doc2, c2.id, t2, data.past, "pm", [_period(time(14, 0), {"public": 4})]),
                "S3": (h1, doc1, cb.id, t1, data.suspended_day, "am", [_period(time(9, 0), {"public": 5})]),
                "S4": (h2, doc2, c2.id, t2, data.future, "am", [_period(time(8, 0), {"public": 4})]),
            }
            sessions = {}
            for key, (h, doc, campus, rtype, day, half, periods) in specs.items():
                sessions[key] = await create_session(s, hospital=h, doctor=doc, campus_id=campus,
                                                     registration_type=rtype, day=day, half_day=half, periods=periods)
            sessions["S3"].status = "suspended"
            members = []
            for i in range(len(BOOKINGS)):
                m = Member(name=f"患者{i}", id_number_encrypted="x", id_number_hash=f"h{i}", id_number_masked="1****",
                           birth_date=date(1980, 1, 1), sex="F", phone=f"1390000{i:04d}", password_hash="x")
                members.append(m)
            s.add_all(members)
            await s.flush()
            checked_in = []
            for i, (skey, start, pool_kind, channel, status, referral) in enumerate(BOOKINGS):
                cs = sessions[skey]
                period = await s.scalar(select(Period).where(Period.session_id == cs.id, Period.start == start))
                pool = await s.scalar(select(SlotPool).where(SlotPool.period_id == period.id, SlotPool.pool == pool_kind))
                if status not in ("cancelled", "expired"):
                    pool.booked += 1
                b = Booking(id=f"R{next(_ref):09d}", member_id=members[i].id, hospital_id=cs.hospital_id,
                            department_id=cs.department_id, doctor_id=cs.doctor_id, session_id=cs.id,
                            period_id=period.id, pool_id=pool.id, session_date=cs.date, starts_at=period.starts_at,
                            ends_at=period.ends_at, channel=channel, status=status,
                            created_by="staff:1" if referral else "member")
                s.add(b)
                await s.flush()
                if referral:
                    s.add(Referral(booking_id=b.id, centre_id=c1.id, hospital_id=cs.hospital_id,
                                   member_id=members[i].id, staff_id=1))
                if status == "checked_in":
                    checked_in.append(b)
            scores = [(5, 3, 5), (4, 3, 5), (2, 3, 4), (5, 4, 5)]  # three at H1, one at H2 (in booking order)
            for b, (overall, waiting, attitude) in zip(checked_in[:3] + checked_in[-1:], scores, strict=False):
                s.add(SurveyResponse(booking_id=b.id, member_id=b.member_id, hospital_id=b.hospital_id,
                                     department_id=b.department_id, doctor_id=b.doctor_id, visit_date=b.session_date,
                                     overall=overall, waiting=waiting, attitude=attitude))
            noon = datetime.combine(data.past, time(10, 0), city.tz)
            s.add_all([
                Complaint(member_id=members[0].id, hospital_id=h1.id, category="waiting", text="等太久",
                          created_at=noon),
                Complaint(member_id=members[1].id, hospital_id=h1.id, category="service", text="态度差",
                          status="replied", reply="已处理", replied_at=noon + timedelta(hours=2), created_at=noon),
                Complaint(member_id=members[7].id, hospital_id=h2.id, category="service", text="态度差",
                          status="closed", reply="已处理", replied_at=noon + timedelta(hours=4),
                          closed_at=noon + timedelta(hours=5), created_at=noon),
                Complaint(member_id=members[8].id, hospital_id=h2.id, category="fees", text="乱收费",
                          created_at=noon - timedelta(days=30)),
            ])
    return data
