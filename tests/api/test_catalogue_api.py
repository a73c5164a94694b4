"""Catalogue and availability over HTTP."""

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import event, update

from guahao.core.catalogue.schedule import PeriodSpec, create_session
from guahao.core.models import ClinicSession, Department, Doctor, Hospital, SessionStatus
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city

from .conftest import signup, url


async def add(rt, city, *objs):
    with use_city(city):
        async with rt.db.transaction() as s:
            s.add_all(objs)
    return objs


async def test_hospitals_and_district_filter(client, rt, city, catalogue):
    r = await client.get(url(city, "/districts"))
    districts = r.json()["items"]
    assert [d["name"] for d in districts] == ["东城区", "西城区"]
    (h2,) = await add(rt, city, Hospital(code="H2", name="西城社区卫生服务中心", kind="community", level=1,
                                         grade="甲", district_id=districts[1]["id"]))
    r = await client.get(url(city, "/hospitals"))
    assert r.status_code == 200
    items = r.json()["items"]
    assert {h["name"] for h in items} == {"第一人民医院", "西城社区卫生服务中心"}
    community = next(h for h in items if h["id"] == h2.id)
    assert community["kind_name"] == "社区医疗机构" and community["level_name"] == "一级甲等"
    assert community["district_name"] == "西城区"
    r = await client.get(url(city, f"/hospitals?district_id={districts[1]['id']}"))
    assert [h["id"] for h in r.json()["items"]] == [h2.id]
    r = await client.get(url(city, f"/hospitals?district_id={districts[0]['id']}"))
    assert r.json()["items"] == []


async def test_hospital_detail_and_departments(client, city, catalogue):
    h = catalogue.hospital
    r = await client.get(url(city, f"/hospitals/{h.id}"))
    assert r.status_code == 200
    body = r.json()
    assert body["name"] == "第一人民医院" and body["campuses"][0]["name"] == "本部"
    assert body["registration_types"] == [{"code": "expert", "name": "专家", "fee_fen": 5000}]
    r = await client.get(url(city, f"/hospitals/{h.id}/departments"))
    assert r.json()["items"] == [{"id": catalogue.department.id, "hospital_id": h.id, "code": "03.01",
                                  "name": "呼吸内科", "description": "", "doctor_count": 2}]


@pytest.mark.parametrize("path", ["/hospitals/999999", "/hospitals/999999/departments", "/doctors/999999",
                                  "/hospitals/0", "/doctors/abc", "/hospitals/99999999999999999999",
                                  "/hospitals/-1/departments"])
async def test_unknown_ids_are_404(client, city, catalogue, path):
    r = await client.get(url(city, path))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_inactive_hospital_is_hidden(client, rt, city, catalogue):
    with use_city(city):
        async with rt.db.transaction() as s:
            await s.execute(update(Hospital).values(active=False))
    assert (await client.get(url(city, "/hospitals"))).json()["items"] == []
    assert (await client.get(url(city, f"/hospitals/{catalogue.hospital.id}"))).status_code == 404
    assert (await client.get(url(city, "/doctors"))).json()["items"] == []


async def test_doctor_search(client, rt, city, catalogue):
    h, dept = catalogue.hospital, catalogue.department
    (other_dept,) = await add(rt, city, Department(hospital_id=h.id, code="07", name="儿科"))
    await add(rt, city, Doctor(hospital_id=h.id, department_id=other_dept.id, name="赵丽", title="resident",
                               specialty="小儿哮喘 100%_有效"))

    async def names(query: str) -> list[str]:
        r = await client.get(url(city, "/doctors" + query))
        assert r.status_code == 200, r.text
        return sorted(d["name"] for d in r.json()["items"])

    assert await names("") == ["李秀英", "王建国", "赵丽"]
    assert await names(f"?department_id={dept.id}") == ["李秀英", "王建国"]
    assert await names(f"?hospital_id={h.id}&department_id={other_dept.id}") == ["赵丽"]
    assert await names("?q=哮喘") == ["王建国", "赵丽"]
    assert await names("?q=王建") == ["王建国"]
    assert await names("?q=%25_") == ["赵丽"]  # LIKE wildcards are literal
    assert await names("?q=_") == ["赵丽"]
    assert await names("?q=%25") == ["赵丽"]
    assert await names("?q=无此人") == []
    assert await names("?hospital_id=999999") == []
    assert await names("?limit=1") == ["王建国"]  # the most senior first
    assert len(await names("?limit=2&offset=1")) == 2
    r = await client.get(url(city, f"/doctors/{catalogue.doctor.id}"))
    body = r.json()
    assert body["title_name"] == "主任医师" and body["department_name"] == "呼吸内科" and "introduction" in body


async def test_availability_by_department_and_doctor(client, city, catalogue):
    r = await client.get(url(city, f"/availability?department_id={catalogue.department.id}"))
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == len(catalogue.sessions) == 6
    first = items[0]
    assert first["released"] is True and first["half_day"] == "am" and first["fee_fen"] == 5000
    assert first["registration_type"] == "expert" and first["registration_type_name"] == "专家"
    assert [p["start"] for p in first["periods"]] == ["08:00", "09:00"]
    assert all(p["remaining"] == 2 for i in items for p in i["periods"])
    assert [i["date"] for i in items] == sorted(i["date"] for i in items)
    r = await client.get(url(city, f"/availability?doctor_id={catalogue.doctor2.id}"))
    assert {i["doctor_id"] for i in r.json()["items"]} == {catalogue.doctor2.id}
    assert len(r.json()["items"]) == 3


async def test_remaining_counts_public_units_left(client, rt, city, catalogue):
    session = catalogue.sessions[0]
    period = catalogue.periods[session.id][0]
    for _ in range(2):
        m = await signup(client, rt, city)
        r = await client.post(url(city, "/bookings"), json={"period_id": period.id, "channel": "app"}, headers=m.headers)
        assert r.status_code == 201, r.text
    r = await client.get(url(city, f"/availability?doctor_id={session.doctor_id}"))
    item = next(i for i in r.json()["items"] if i["session_id"] == session.id)
    assert [(p["period_id"], p["remaining"]) for p in item["periods"]] == [
        (period.id, 0),
        (catalogue.periods[session.id][1].id, 2),
    ]


async def test_reserved_pools_do_not_count_as_public(client, rt, city):
    from tests.factories import make_catalogue

    cat = await make_catalogue(rt, city, days_ahead=1, capacity=3, extra_pools={"onsite": 5, "referral": 2})
    r = await client.get(url(city, f"/availability?department_id={cat.department.id}"))
    assert {p["remaining"] for i in r.json()["items"] for p in i["periods"]} == {3}


async def test_dates_release_and_status(client, rt, city, catalogue):
    """Unreleased sessions show when they open; suspended, past and far sessions are left out."""
    local_now = datetime.combine(utcnow().astimezone(city.tz).date(), time(10, 0), tzinfo=city.tz)
    today = local_now.date()
    with frozen(local_now), use_city(city):
        async with rt.db.transaction() as s:
            made = {}
            for offset in (0, 15, 16):
                made[offset] = await create_session(
                    s, hospital=catalogue.hospital, doctor=catalogue.doctor, campus_id=catalogue.campus.id,
                    registration_type=catalogue.reg_type, day=today + timedelta(days=offset), half_day="pm",
                    periods=[PeriodSpec(time(9, 0) if offset == 0 else time(14, 0), time(14, 30))],
                )
            suspended = catalogue.sessions[2]  # the doctor's session on day 2
            assert suspended.doctor_id == catalogue.doctor.id
            await s.execute(update(ClinicSession).where(ClinicSession.id == suspended.id)
                            .values(status=SessionStatus.suspended))
    with frozen(local_now):
        r = await client.get(url(city, f"/availability?doctor_id={catalogue.doctor.id}"))
        items = {i["session_id"]: i for i in r.json()["items"]}
    assert made[0].id not in items  # today, its only period already started
    assert made[16].id not in items  # releases in two days
    assert suspended.id not in items
    assert {catalogue.sessions[0].id, catalogue.sessions[4].id} <= items.keys()
    upcoming = items[made[15].id]
    assert upcoming["released"] is False
    assert upcoming["release_at"] == (made[15].release_at).isoformat().replace("+00:00", "Z")
    assert upcoming["periods"][0]["remaining"] == 1
    with frozen(local_now):
        day = today + timedelta(days=3)
        r = await client.get(url(city, f"/availability?doctor_id={catalogue.doctor.id}&date_from={day}&date_to={day}"))
    assert [i["date"] for i in r.json()["items"]] == [day.isoformat()]


@pytest.mark.parametrize(
    "query, code",
    [
        ("", "missing_filter"),
        ("?date_from=2025-01-01", "missing_filter"),
        ("?department_id=1&date_from=2025-13-01", "validation_error"),
        ("?department_id=1&date_to=tomorrow", "validation_error"),
        ("?department_id=abc", "validation_error"),
        ("?department_id=0", "validation_error"),
        ("?doctor_id=99999999999", "validation_error"),
        ("?department_id=1&date_to=0", "validation_error"),  # a date, not a timestamp
        ("?department_id=1&date_from=1700000000", "validation_error"),
    ],
)
async def test_availability_bad_queries(client, city, catalogue, query, code):
    r = await client.get(url(city, "/availability" + query))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == code


async def test_availability_of_a_reversed_date_range_is_empty(client, city, catalogue):
    """date_to before date_from holds no sessions: 200 with no items, as the document says."""
    day = catalogue.sessions[0].date
    r = await client.get(url(city, f"/availability?department_id={catalogue.department.id}"
                                   f"&date_from={day + timedelta(days=1)}&date_to={day}"))
    assert r.status_code == 200 and r.json() == {"items": []}
    r = await client.get(url(city, f"/availability?department_id={catalogue.department.id}&date_from={day}&date_to={day}"))
    assert r.status_code == 200 and r.json()["items"]


async def test_availability_costs_two_queries_however_many_sessions(client, rt, city):
    from tests.factories import make_catalogue

    cat = await make_catalogue(rt, city, days_ahead=13, periods=8, capacity=4)
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    async def data_queries(query: str) -> tuple[int, dict]:
        statements.clear()
        event.listen(rt.db.engine.sync_engine, "before_cursor_execute", record)
        try:
            r = await client.get(url(city, "/availability" + query))
        finally:
            event.remove(rt.db.engine.sync_engine, "before_cursor_execute", record)
        assert r.status_code == 200
        return len([q for q in statements if "clinic_sessions" in q]), r.json()

    few, body = await data_queries(f"?doctor_id={cat.doctor.id}&date_to={cat.sessions[0].date}")
    assert len(body["items"]) == 1
    many, body = await data_queries(f"?department_id={cat.department.id}")
    assert len(body["items"]) == 26 and all(len(i["periods"]) == 8 for i in body["items"])
    assert few == many <= 2
