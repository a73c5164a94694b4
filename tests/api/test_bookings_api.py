"""Bookings and the waitlist over HTTP: the member's own, with the engine's refusals."""

import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import update

from guahao.core.members.tokens import issue
from guahao.core.models import Member
from guahao.tenants.clock import frozen, utcnow
from guahao.tenants.context import use_city
from tests.factories import make_catalogue

from .conftest import signup, url


def first_period(cat, session_index: int = 0, period_index: int = 0) -> int:
    return cat.periods[cat.sessions[session_index].id][period_index].id


async def book(client, city, m, period_id: int, **headers):
    return await client.post(url(city, "/bookings"), json={"period_id": period_id, "channel": "app"},
                             headers={**m.headers, **headers})


async def test_book_get_list_cancel(client, city, catalogue, member):
    pid = first_period(catalogue)
    r = await book(client, city, member, pid)
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["status"] == "confirmed" and b["period_id"] == pid and b["channel"] == "app"
    assert b["hospital_name"] == "第一人民医院" and b["doctor_name"] == "王建国" and b["start"] == "08:00"
    assert re.fullmatch(r"[2-9A-HJKMNP-TV-Z]{5}-[2-9A-HJKMNP-TV-Z]{5}", b["id"]), b["id"]  # short, unambiguous

    r = await client.get(url(city, f"/bookings/{b['id']}"), headers=member.headers)
    assert r.status_code == 200 and r.json()["id"] == b["id"]
    r = await client.get(url(city, f"/bookings/{b['id'].lower()}"), headers=member.headers)
    assert r.status_code == 200  # references are read case-insensitively
    for scope, expected in (("all", [b["id"]]), ("upcoming", [b["id"]]), ("past", []), ("cancelled", [])):
        r = await client.get(url(city, f"/bookings?scope={scope}"), headers=member.headers)
        assert [x["id"] for x in r.json()["items"]] == expected, scope

    r = await client.post(url(city, f"/bookings/{b['id']}/cancel"), json={"reason": "行程有变"}, headers=member.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "行程有变"
    r = await client.get(url(city, "/bookings?scope=cancelled"), headers=member.headers)
    assert [x["id"] for x in r.json()["items"]] == [b["id"]]


async def test_cancel_without_body(client, city, catalogue, member):
    b = (await book(client, city, member, first_period(catalogue))).json()
    r = await client.post(url(city, f"/bookings/{b['id']}/cancel"), headers=member.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


async def test_online_payment_hospital_holds_the_booking(client, rt, city):
    cat = await make_catalogue(rt, city, payment_mode="online")
    m = await signup(client, rt, city)
    r = await book(client, city, m, first_period(cat))
    assert r.status_code == 201
    assert r.json()["status"] == "pending_payment" and r.json()["hold_expires_at"]


async def test_idempotency_key_replays_and_refuses_reuse(client, city, catalogue, member):
    pid = first_period(catalogue)
    first = await book(client, city, member, pid, **{"Idempotency-Key": "order-1"})
    again = await book(client, city, member, pid, **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    r = await client.get(url(city, "/bookings"), headers=member.headers)
    assert len(r.json()["items"]) == 1
    other = await book(client, city, member, first_period(catalogue, 2), **{"Idempotency-Key": "order-1"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    bad = await book(client, city, member, pid, **{"Idempotency-Key": "with space"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_idempotency_key"


async def test_booking_rules_answer_with_their_codes(client, rt, city, catalogue, member):
    assert (await book(client, city, member, first_period(catalogue, 0, 0))).status_code == 201
    r = await book(client, city, member, first_period(catalogue, 0, 1))
    assert r.status_code == 409 and r.json()["error"]["code"] == "duplicate_session"
    assert (await book(client, city, member, first_period(catalogue, 1))).status_code == 201
    r = await book(client, city, member, first_period(catalogue, 2))
    assert r.status_code == 409 and r.json()["error"]["code"] == "too_many_active"
    r = await book(client, city, member, 2_000_000_000)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_slot_full_then_waitlist_offer_and_accept(client, rt, city):
    cat = await make_catalogue(rt, city, days_ahead=1, periods=1, capacity=1)
    pid = first_period(cat)
    session_id = cat.sessions[0].id
    a, b = await signup(client, rt, city), await signup(client, rt, city)
    booked = (await book(client, city, a, pid)).json()
    r = await book(client, city, b, pid)
    assert r.status_code == 409 and r.json()["error"]["code"] == "slot_full"

    r = await client.post(url(city, "/waitlist"), json={"session_id": session_id}, headers=b.headers)
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["status"] == "waiting" and entry["position"] == 1
    r = await client.post(url(city, "/waitlist"), json={"session_id": session_id}, headers=b.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_waiting"
    r = await client.post(url(city, "/waitlist"), json={"session_id": cat.sessions[1].id}, headers=b.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "waitlist_not_full"
    r = await client.get(url(city, "/waitlist"), headers=b.headers)
    assert [e["id"] for e in r.json()["items"]] == [entry["id"]]

    await client.post(url(city, f"/bookings/{booked['id']}/cancel"), headers=a.headers)
    offered = (await client.get(url(city, "/bookings"), headers=b.headers)).json()["items"]
    assert [o["status"] for o in offered] == ["offered"]
    r = await client.post(url(city, f"/bookings/{offered[0]['id']}/accept"), headers=a.headers)
    assert r.status_code == 404  # not a's offer
    r = await client.post(url(city, f"/bookings/{offered[0]['id']}/accept"), headers=b.headers)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    r = await client.post(url(city, f"/bookings/{offered[0]['id']}/accept"), headers=b.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_state"


async def test_leave_waitlist(client, rt, city):
    cat = await make_catalogue(rt, city, days_ahead=1, periods=1, capacity=1)
    a, b = await signup(client, rt, city), await signup(client, rt, city)
    await book(client, city, a, first_period(cat))
    entry = (await client.post(url(city, "/waitlist"), json={"session_id": cat.sessions[0].id}, headers=b.headers)).json()
    r = await client.delete(url(city, f"/waitlist/{entry['id']}"), headers=a.headers)
    assert r.status_code == 404
    r = await client.delete(url(city, f"/waitlist/{entry['id']}"), headers=b.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await client.get(url(city, "/waitlist"), headers=b.headers)).json()["items"] == []


async def test_another_members_booking_is_not_found(client, rt, city, catalogue, member):
    b = (await book(client, city, member, first_period(catalogue))).json()
    other = await signup(client, rt, city)
    for method, path in (("GET", f"/bookings/{b['id']}"), ("POST", f"/bookings/{b['id']}/cancel"),
                         ("POST", f"/bookings/{b['id']}/accept")):
        r = await client.request(method, url(city, path), headers=other.headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", path
    assert (await client.get(url(city, "/bookings"), headers=other.headers)).json()["items"] == []
    r = await client.get(url(city, f"/bookings/{b['id']}"), headers=member.headers)
    assert r.json()["status"] == "confirmed"  # untouched by the other member's cancel


@pytest.mark.city_rules(cancel_days_before=1)  # the platform's default: 18:00 the day before
async def test_cancel_after_the_cutoff_and_booking_before_release(client, rt, city, member):
    def fresh_token():  # tokens issued "in the future" are refused, so one per frozen moment
        member.token = issue(rt.settings, member_id=member.id, city_id=city.id)[0]

    local_morning = datetime.combine(utcnow().astimezone(city.tz).date(), time(10, 0), tzinfo=city.tz)
    with frozen(local_morning):
        fresh_token()
        cat = await make_catalogue(rt, city, days_ahead=1)
        b = (await book(client, city, member, first_period(cat))).json()
        assert b["status"] == "confirmed"
    with frozen(local_morning + timedelta(hours=9)):  # 19:00 the evening before (cut-off 18:00)
        fresh_token()
        r = await client.post(url(city, f"/bookings/{b['id']}/cancel"), headers=member.headers)
        assert r.status_code == 409 and r.json()["error"]["code"] == "cancel_too_late"
    with frozen(local_morning - timedelta(days=14)):  # before the release (14 days ahead, 07:30)
        fresh_token()
        r = await book(client, city, member, first_period(cat, 1))
        assert r.status_code == 409 and r.json()["error"]["code"] == "outside_window"


async def test_suspended_member_cannot_book_and_sees_why(client, rt, city, catalogue, member):
    with use_city(city):
        async with rt.db.transaction() as s:
            await s.execute(update(Member).where(Member.id == member.id)
                            .values(suspended_until=utcnow() + timedelta(days=30), suspension_reason="爽约"))
    r = await book(client, city, member, first_period(catalogue))
    assert r.status_code == 403 and r.json()["error"]["code"] == "credit_suspended"
    me = (await client.get(url(city, "/me"), headers=member.headers)).json()
    assert me["credit"]["status"] == "suspended" and me["credit"]["suspended_until"]


@pytest.mark.parametrize("scope", ["nope", "ALL", ""])
async def test_bad_scope(client, city, member, scope):
    r = await client.get(url(city, f"/bookings?scope={scope}"), headers=member.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
