"""Bad input on every endpoint answers 4xx with an error body, never 500."""

import json

import pytest

from .conftest import url

BIG = "x" * (70 * 1024)

# (path, a valid body) for every endpoint that takes a JSON body.
BODIES = {
    "/members": {"name": "张伟", "id_number": "11010519491231002X", "phone": "13800138000", "password": "secret123"},
    "/auth/token": {"login": "13800138000", "password": "secret123"},
    "/bookings": {"period_id": 1, "channel": "app"},
    "/bookings/GHAAAAAAAAAAAAAAAA/cancel": {"reason": "有事"},
    "/waitlist": {"session_id": 1},
}
AUTH_NEEDED = {"/bookings", "/bookings/GHAAAAAAAAAAAAAAAA/cancel", "/waitlist"}
# A field with a rule of its own answers with the rule's code (the name's length and letters).
FIELD_RULES = {"/members": "invalid_name"}


def broken_bodies(path: str, valid: dict) -> list[tuple[str, bytes | str, str, int, str]]:
    """(label, raw body, content type, expected status, expected code)."""
    key = next(iter(valid))
    cases = [
        ("not json", b"{not json", "application/json", 422, "invalid_json"),
        ("truncated", json.dumps(valid)[:-1], "application/json", 422, "invalid_json"),
        ("invalid utf-8", b'{"a": "\xff\xfe"}', "application/json", 422, "invalid_json"),
        ("lone surrogate", '{"%s": "\\ud800"}' % key, "application/json", 422, "*"),
        ("array", "[]", "application/json", 422, "validation_error"),
        ("string", '"hello"', "application/json", 422, "validation_error"),
        ("number", "42", "application/json", 422, "validation_error"),
        ("null", "null", "application/json", 422, "validation_error"),
        ("extra field", json.dumps({**valid, "admin": True}), "application/json", 422, "validation_error"),
        ("wrong type", json.dumps({**valid, key: [1, 2]}), "application/json", 422, "validation_error"),
        ("null field", json.dumps({**valid, key: None}), "application/json", 422, "validation_error"),
        ("huge string", json.dumps({**valid, key: "y" * 5000}), "application/json", 422,
         FIELD_RULES.get(path, "validation_error")),
        ("over 64 KiB", json.dumps({**valid, key: BIG}), "application/json", 413, "payload_too_large"),
        ("form", "a=1&b=2", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("text", json.dumps(valid), "text/plain", 415, "unsupported_media_type"),
        ("no content type", json.dumps(valid), "", 415, "unsupported_media_type"),
    ]
    if len(valid) > 1 or key != "reason":  # cancel's body is optional
        cases.append(("missing fields", "{}", "application/json", 422, "validation_error"))
    return cases


CASES = [(path, *case) for path, valid in BODIES.items() for case in broken_bodies(path, valid)]


@pytest.mark.parametrize("path, label, raw, ctype, status, code", CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
async def test_broken_bodies(client, shared_city, token_headers, path, label, raw, ctype, status, code):
    city = shared_city
    headers = dict(token_headers) if path in AUTH_NEEDED else {}
    if ctype:
        headers["Content-Type"] = ctype
    content = raw.encode() if isinstance(raw, str) else raw
    r = await client.post(url(city, path), content=content, headers=headers)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert code == "*" or error["code"] == code
    assert error["message"]


async def test_huge_body_without_content_length(client, shared_city):
    city = shared_city

    async def chunks():
        for _ in range(100):
            yield b" " * 1024

    r = await client.post(url(city, "/members"), content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"


async def test_control_characters_are_refused_before_the_database(client, shared_city, token_headers):
    city = shared_city
    r = await client.post(url(city, "/bookings/GHAAAAAAAAAAAAAAAA/cancel"), json={"reason": "a\x00b"},
                          headers=token_headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    r = await client.post(url(city, "/auth/token"), json={"login": "138\x0000138000", "password": "x"})
    assert r.status_code == 422
    r = await client.get(url(city, "/doctors"), params={"q": "王\x00"})
    assert r.status_code == 422


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/hospitals?district_id=abc"),
        ("GET", "/hospitals?district_id=-1"),
        ("GET", "/hospitals?district_id=1.5"),
        ("GET", "/hospitals?district_id=99999999999999999999999"),
        ("GET", "/doctors?hospital_id=x"),
        ("GET", "/doctors?department_id=0"),
        ("GET", "/doctors?limit=0"),
        ("GET", "/doctors?limit=100000"),
        ("GET", "/doctors?offset=-1"),
        ("GET", "/doctors?q=" + "王" * 51),
        ("GET", "/availability?department_id=1&date_from=2025-02-30"),
        ("GET", "/availability?doctor_id=1&date_to=99999-01-01"),
        ("GET", "/bookings?scope=everything"),
    ],
)
async def test_bad_query_parameters(client, shared_city, token_headers, method, path):
    r = await client.request(method, url(shared_city, path), headers=token_headers)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    assert r.json()["error"]["details"][0]["field"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/hospitals/abc"),
        ("GET", "/hospitals/1.5"),
        ("GET", "/hospitals/%00"),
        ("GET", "/hospitals/2147483648"),
        ("GET", "/hospitals/abc/departments"),
        ("GET", "/doctors/-3"),
        ("GET", "/bookings/%27%20OR%201%3D1"),
        ("GET", "/bookings/" + "G" * 30),
        ("POST", "/bookings/%E4%B8%AD/cancel"),
        ("POST", "/bookings/GH!/accept"),
        ("DELETE", "/waitlist/abc"),
        ("DELETE", "/waitlist/0"),
        ("GET", "/no-such-endpoint"),
    ],
)
async def test_bad_path_ids_are_404(client, shared_city, token_headers, method, path):
    r = await client.request(method, url(shared_city, path), headers=token_headers)
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "not_found"


async def test_wrong_method_and_unknown_city(client, shared_city):
    city = shared_city
    r = await client.delete(url(city, "/hospitals"))
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    r = await client.get("/api/v1/no-such-city/hospitals")
    assert r.status_code == 404 and r.json()["error"]["code"] == "city_not_found"
    r = await client.post("/api/v1/%E4%B8%AD%E6%96%87/members", json={})
    assert r.status_code == 404 and r.json()["error"]["code"] == "city_not_found"
