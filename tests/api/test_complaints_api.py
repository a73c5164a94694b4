"""Complaints over the API (R10.2): a member files one about a hospital, optionally about a
booking there, reads the hospital's reply; another member's complaint is answered as missing."""

from guahao.core.feedback.complaints import close_complaint, reply_to_complaint
from guahao.core.models import Hospital
from guahao.tenants.context import use_city

from .conftest import signup, url


async def test_file_list_read_and_see_the_reply(client, rt, city, catalogue, member):
    pid = catalogue.periods[catalogue.sessions[0].id][0].id
    booking = (await client.post(url(city, "/bookings"), json={"period_id": pid}, headers=member.headers)).json()
    body = {"hospital_id": catalogue.hospital.id, "category": "waiting", "text": "候诊两个小时\n没有人说明原因。",
            "booking_id": booking["id"]}
    r = await client.post(url(city, "/complaints"), json=body, headers=member.headers)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["status"] == "submitted" and c["booking_id"] == booking["id"] and c["text"] == body["text"]
    assert c["reply"] == "" and c["replied_at"] is None

    r = await client.get(url(city, "/complaints"), headers=member.headers)
    assert [x["id"] for x in r.json()["items"]] == [c["id"]]

    with use_city(city):
        async with rt.db.transaction() as s:
            await reply_to_complaint(s, c["id"], reply="已向候诊区增派导诊人员。", staff="hospital.admin")
    r = await client.get(url(city, f"/complaints/{c['id']}"), headers=member.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "replied" and r.json()["reply"] == "已向候诊区增派导诊人员。" and r.json()["replied_at"]
    with use_city(city):
        async with rt.db.transaction() as s:
            await close_complaint(s, c["id"], staff="hospital.admin")
    assert (await client.get(url(city, f"/complaints/{c['id']}"), headers=member.headers)).json()["status"] == "closed"

    other = await signup(client, rt, city)
    r = await client.get(url(city, f"/complaints/{c['id']}"), headers=other.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert (await client.get(url(city, "/complaints"), headers=other.headers)).json() == {"items": []}


async def test_refusals(client, rt, city, catalogue, member):
    with use_city(city):
        async with rt.db.transaction() as s:
            elsewhere = Hospital(code="H9", name="示例市眼科医院", kind="specialty", level=3)
            s.add(elsewhere)
            await s.flush()
            elsewhere_id = elsewhere.id
    pid = catalogue.periods[catalogue.sessions[0].id][0].id
    booking = (await client.post(url(city, "/bookings"), json={"period_id": pid}, headers=member.headers)).json()
    base = {"hospital_id": catalogue.hospital.id, "category": "service", "text": "态度不好"}

    async def post(**changes):
        return await client.post(url(city, "/complaints"), json={**base, **changes}, headers=member.headers)

    for changes, status, code in (
        ({"hospital_id": 999_999}, 404, "not_found"),
        ({"booking_id": "GHAAAAAAAAAAAAAAAA"}, 404, "not_found"),
        ({"text": " \n\u3000 "}, 422, "missing_text"),
        ({"text": "a\x00b"}, 422, "missing_text"),
        ({"category": "parking"}, 422, "validation_error"),
        ({"text": "长" * 2001}, 422, "validation_error"),
        ({"booking_id": "not a ref!"}, 422, "validation_error"),
        ({"hospital_id": elsewhere_id, "booking_id": booking["id"]}, 409, "booking_mismatch"),
    ):
        r = await post(**changes)
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), changes
    other = await signup(client, rt, city)
    r = await client.post(url(city, "/complaints"), json={**base, "booking_id": booking["id"]}, headers=other.headers)
    assert r.status_code == 404  # another member's booking
    r = await client.post(url(city, "/complaints"), json=base)
    assert r.status_code == 401
