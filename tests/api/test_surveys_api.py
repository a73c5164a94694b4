"""Satisfaction surveys over the API (R9.2): a checked-in visit of the member's own, once,
within 7 days; the open ones are listed."""

from datetime import timedelta

from guahao.core.booking import engine
from guahao.core.members.tokens import issue
from guahao.tenants.clock import frozen, utcnow
from tests.core.booking.helpers import run

from .conftest import signup, url

ANSWERS = {"overall": 5, "waiting": 3, "attitude": 4, "comment": "医生讲解很耐心。\n候诊有点久。"}


async def booked(client, city, catalogue, member, index: int = 0) -> str:
    pid = catalogue.periods[catalogue.sessions[index].id][0].id
    r = await client.post(url(city, "/bookings"), json={"period_id": pid}, headers=member.headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_survey_a_checked_in_visit_once(client, rt, city, catalogue, member):
    unseen = await booked(client, city, catalogue, member, 1)
    r = await client.post(url(city, f"/bookings/{unseen}/survey"), json=ANSWERS, headers=member.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_checked_in")

    seen = await booked(client, city, catalogue, member, 0)
    booking = await run(rt, city, engine.check_in, seen)
    r = await client.get(url(city, "/surveys"), headers=member.headers)
    [open_one] = r.json()["items"]
    assert open_one["booking_id"] == seen and open_one["doctor_id"] == booking.doctor_id

    other = await signup(client, rt, city)
    r = await client.post(url(city, f"/bookings/{seen}/survey"), json=ANSWERS, headers=other.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")

    r = await client.post(url(city, f"/bookings/{seen.lower()}/survey"), json=ANSWERS, headers=member.headers)
    assert r.status_code == 201, r.text
    assert {k: r.json()[k] for k in ANSWERS} == ANSWERS and r.json()["booking_id"] == seen
    assert (await client.get(url(city, "/surveys"), headers=member.headers)).json() == {"items": []}
    r = await client.post(url(city, f"/bookings/{seen}/survey"), json=ANSWERS, headers=member.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "already_surveyed")


async def test_refusals(client, rt, city, catalogue, member):
    seen = await booked(client, city, catalogue, member)
    await run(rt, city, engine.check_in, seen)
    survey = url(city, f"/bookings/{seen}/survey")
    for body in ({**ANSWERS, "overall": 6}, {**ANSWERS, "waiting": 0}, {**ANSWERS, "comment": "a\x00b"},
                 {**ANSWERS, "comment": "长" * 1001}, {"overall": 5}, {**ANSWERS, "attitude": "5"}):
        r = await client.post(survey, json=body, headers=member.headers)
        assert (r.status_code, r.json()["error"]["code"]) == (422, "validation_error"), body
    with frozen(utcnow() + timedelta(days=10)):
        token, _ = issue(rt.settings, member_id=member.id, city_id=city.id)  # the first one has expired
        r = await client.post(survey, json=ANSWERS, headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "survey_closed")
    assert (await client.post(survey, json=ANSWERS)).status_code == 401
