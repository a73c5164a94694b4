"""Tenant isolation through the API: nothing of city B is reachable from city A."""

import uuid

from tests.factories import make_catalogue, make_city

from .conftest import identity, signup, url


async def test_a_member_of_one_city_is_nobody_in_another(client, rt, city, catalogue):
    other = await make_city(rt, f"iso-{uuid.uuid4().hex[:6]}")
    other_cat = await make_catalogue(rt, other)
    a = await signup(client, rt, city)
    b = await signup(client, rt, other)
    pid_b = other_cat.periods[other_cat.sessions[0].id][0].id
    booking_b = (await client.post(url(other, "/bookings"), json={"period_id": pid_b, "channel": "app"},
                                   headers=b.headers)).json()

    # A's token is refused by B, and B's by A.
    for c, m in ((other, a), (city, b)):
        for path in ("/me", "/bookings", f"/bookings/{booking_b['id']}"):
            r = await client.get(url(c, path), headers=m.headers)
            assert r.status_code == 401, path
    # Through A's own door, B's booking, period and session do not exist.
    r = await client.get(url(city, f"/bookings/{booking_b['id']}"), headers=a.headers)
    assert r.status_code == 404
    r = await client.post(url(city, f"/bookings/{booking_b['id']}/cancel"), headers=a.headers)
    assert r.status_code == 404
    r = await client.post(url(city, "/bookings"), json={"period_id": pid_b, "channel": "app"}, headers=a.headers)
    assert r.status_code == 404
    r = await client.post(url(city, "/waitlist"), json={"session_id": other_cat.sessions[0].id}, headers=a.headers)
    assert r.status_code == 404
    assert (await client.get(url(city, "/bookings"), headers=a.headers)).json()["items"] == []
    r = await client.get(url(other, f"/bookings/{booking_b['id']}"), headers=b.headers)
    assert r.json()["status"] == "confirmed"


async def test_catalogue_of_another_city_is_not_found(client, rt, city, catalogue):
    other = await make_city(rt, f"iso-{uuid.uuid4().hex[:6]}")
    o = await make_catalogue(rt, other)
    for path in (f"/hospitals/{o.hospital.id}", f"/hospitals/{o.hospital.id}/departments", f"/doctors/{o.doctor.id}"):
        assert (await client.get(url(city, path))).status_code == 404, path
        assert (await client.get(url(other, path))).status_code == 200, path
    assert (await client.get(url(city, f"/doctors?hospital_id={o.hospital.id}"))).json()["items"] == []
    r = await client.get(url(city, f"/availability?department_id={o.department.id}"))
    assert r.status_code == 200 and r.json()["items"] == []
    ids = {h["id"] for h in (await client.get(url(city, "/hospitals"))).json()["items"]}
    assert ids == {catalogue.hospital.id}


async def test_registration_and_login_are_per_city(client, rt, city):
    other = await make_city(rt, f"iso-{uuid.uuid4().hex[:6]}")
    ident = identity()
    assert (await client.post(url(city, "/members"), json=ident)).status_code == 201
    login = {"login": ident["phone"], "password": ident["password"]}
    r = await client.post(url(other, "/auth/token"), json=login)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials"
    assert (await client.post(url(other, "/members"), json=ident)).status_code == 201
    assert (await client.post(url(other, "/auth/token"), json=login)).status_code == 200
