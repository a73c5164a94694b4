"""The OpenAPI document covers every route, and real answers match it; the API page renders it."""

import re

import jsonschema_rs
import pytest
from starlette.routing import Mount

from .conftest import identity, signup, url


def api_routes(app) -> set[tuple[str, str]]:
    mount = next(r for r in app.routes if isinstance(r, Mount) and r.path == "/api/v1")
    out = set()
    for route in mount.routes:
        for method in route.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                out.add((method.lower(), "/api/v1" + route.path))
    return out


async def test_document_lists_exactly_the_routes(client, app):
    r = await client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"] == "3.1.0"
    documented = {(m, p) for p, methods in doc["paths"].items() for m in methods}
    served = api_routes(app) - {("get", "/api/v1/openapi.json"), ("get", "/api/v1/docs")}
    assert documented == served
    for path in ("/api/v1/{city}/members", "/api/v1/{city}/auth/token", "/api/v1/{city}/availability",
                 "/api/v1/{city}/bookings/{booking_id}/cancel", "/api/v1/{city}/me"):
        assert path in doc["paths"]


async def test_every_schema_is_valid_json_schema_and_every_error_is_described(client):
    doc = (await client.get("/api/v1/openapi.json")).json()
    registry = jsonschema_rs.Registry([("urn:doc", doc)])
    for name, schema in doc["components"]["schemas"].items():
        jsonschema_rs.meta.validate(schema)
        validator = jsonschema_rs.validator_for({"$ref": f"urn:doc#/components/schemas/{name}"}, registry=registry)
        for example in schema.get("examples", []):
            validator.validate(example)
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            assert op["operationId"] and op["summary"]
            statuses = set(op["responses"])
            assert any(s.startswith("2") for s in statuses)
            assert "404" in statuses  # unknown city at least
            if op.get("requestBody"):
                assert {"413", "415", "422"} <= statuses, (method, path)
            if op.get("security"):
                assert "401" in statuses, (method, path)
            for status, resp in op["responses"].items():
                if not status.startswith("2"):
                    assert resp["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}
                    assert resp["x-error-codes"]
            for p in op["parameters"]:
                assert p["in"] in ("path", "query", "header") and "schema" in p


async def test_real_answers_match_their_schemas(client, rt, city, catalogue):
    """A hand-rolled conformance pass over the main success paths (schemathesis does the rest)."""
    doc = (await client.get("/api/v1/openapi.json")).json()
    registry = jsonschema_rs.Registry([("urn:doc", doc)])

    def check(method: str, path: str, status: int, body) -> None:
        schema = doc["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        ref = "urn:doc#/components/schemas/" + schema["$ref"].rsplit("/", 1)[-1]
        jsonschema_rs.validator_for({"$ref": ref}, registry=registry).validate(body)

    m = await signup(client, rt, city)
    pid = catalogue.periods[catalogue.sessions[0].id][0].id
    calls = [
        ("get", "/{city}/hospitals", "/hospitals", None),
        ("get", "/{city}/hospitals/{hospital_id}", f"/hospitals/{catalogue.hospital.id}", None),
        ("get", "/{city}/hospitals/{hospital_id}/departments", f"/hospitals/{catalogue.hospital.id}/departments", None),
        ("get", "/{city}/doctors", "/doctors", None),
        ("get", "/{city}/doctors/{doctor_id}", f"/doctors/{catalogue.doctor.id}", None),
        ("get", "/{city}/availability", f"/availability?department_id={catalogue.department.id}", None),
        ("post", "/{city}/bookings", "/bookings", {"period_id": pid, "channel": "app"}),
        ("get", "/{city}/bookings", "/bookings", None),
        ("get", "/{city}/me", "/me", None),
        ("post", "/{city}/bookings", "/bookings", {"period_id": pid, "channel": "app"}),  # 409
        ("get", "/{city}/hospitals/{hospital_id}", "/hospitals/999999", None),  # 404
    ]
    for method, template, path, body in calls:
        r = await client.request(method.upper(), url(city, path), json=body, headers=m.headers)
        assert str(r.status_code) in doc["paths"]["/api/v1" + template][method]["responses"], (path, r.status_code)
        check(method, "/api/v1" + template, r.status_code, r.json())


async def test_api_page_shows_every_operation_without_external_assets(client):
    doc = (await client.get("/api/v1/openapi.json")).json()
    r = await client.get("/api/v1/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "接口文档" in html and "错误码" in html and "Error codes" in html
    for path, methods in doc["paths"].items():
        assert path in html
        for op in methods.values():
            assert f'id="{op["operationId"]}"' in html
    for code in ("slot_full", "invalid_id_number", "too_many_attempts", "payload_too_large", "city_not_found"):
        assert f"<code>{code}</code>" in html
    assert "&#34;period_id&#34;" in html or '"period_id"' in html  # a request example
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "department_id: integer, doctor_id: integer (at least one)" in html  # availability's filter group


@pytest.mark.parametrize("path, allow", [
    ("/bookings", {"GET", "POST"}),
    ("/waitlist", {"GET", "POST"}),
    ("/waitlist/1", {"DELETE"}),
    ("/bookings/GHAAAAAAAAAAAAAAAA/cancel", {"POST"}),
    ("/availability", {"GET"}),
])
async def test_options_and_405_name_every_method_of_the_path(client, city, path, allow):
    r = await client.options(url(city, path))
    assert r.status_code == 204 and r.content == b""
    methods = {m.strip() for m in r.headers["allow"].split(",")}
    assert methods - {"HEAD", "OPTIONS"} == allow
    r = await client.put(url(city, path), json={})
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert {m.strip() for m in r.headers["allow"].split(",")} == methods


async def test_options_of_every_documented_path_allows_its_documented_methods(client, city):
    doc = (await client.get("/api/v1/openapi.json")).json()
    for path, methods in doc["paths"].items():
        concrete = path.replace("{city}", city.slug).replace("{booking_id}", "GHAAAAAAAAAAAAAAAA")
        concrete = re.sub(r"{\w+_id}", "1", concrete)
        r = await client.options(concrete)
        assert r.status_code == 204, path
        allowed = {m.strip().lower() for m in r.headers["allow"].split(",")} - {"head", "options"}
        assert allowed == set(methods), path


async def test_availability_filter_rule_is_in_the_document(client):
    doc = (await client.get("/api/v1/openapi.json")).json()
    params = {p["name"]: p for p in doc["paths"]["/api/v1/{city}/availability"]["get"]["parameters"]}
    group = params["filter"]
    assert group["in"] == "query" and group["required"] and group["style"] == "form" and group["explode"]
    assert set(group["schema"]["properties"]) == {"department_id", "doctor_id"}
    validator = jsonschema_rs.validator_for(group["schema"])
    assert validator.is_valid({"department_id": 3}) and validator.is_valid({"doctor_id": 7, "department_id": 3})
    assert not validator.is_valid({})
    assert {"date_from", "date_to"} <= set(params) and "department_id" not in params


@pytest.mark.parametrize("field, value, ok", [
    ("name", "张伟", True), ("name", "阿依古丽·买买提", True), ("name", "Li Na", True), ("name", "王", False),
    ("name", "张伟1", False), ("name", "张伟 ", False), ("name", "张" * 31, False),
    ("phone", "13800138000", True), ("phone", "+86 138-0013-8000", True), ("phone", "12800138000", False),
    ("phone", "13800138000\n", False), ("phone", "138  00138000", False),
    ("password", "secret123", True), ("password", "12345678a", True), ("password", "abcdefgh", False),
    ("password", "密码密码密码密码1", False), ("password", "a1", False), ("password", "a1" * 65, False),
    ("id_number", "11010519491231002x", True), ("id_number", "99010519491231002X", False),
    ("id_number", "1101051949123100", False),
])
async def test_registration_rules_in_the_document_are_the_servers(client, city, field, value, ok):
    """A value the document's pattern and lengths allow is accepted, one they forbid is refused
    with the rule's code (the check digit aside, which the document names format gb11643)."""
    doc = (await client.get("/api/v1/openapi.json")).json()
    schema = doc["components"]["schemas"]["RegisterRequest"]["properties"][field]
    assert jsonschema_rs.validator_for(schema).is_valid(value) == ok
    r = await client.post(url(city, "/members"), json=identity(**{field: value}))
    codes = {"name": "invalid_name", "phone": "invalid_phone", "password": "weak_password",
             "id_number": "invalid_id_number"}
    assert (r.status_code, r.json().get("error", {}).get("code")) == ((201, None) if ok else (422, codes[field]))


async def test_control_characters_are_refused_by_pattern(client):
    doc = (await client.get("/api/v1/openapi.json")).json()
    login = doc["components"]["schemas"]["TokenRequest"]["properties"]["login"]
    q = next(p for p in doc["paths"]["/api/v1/{city}/doctors"]["get"]["parameters"] if p["name"] == "q")
    for schema in (login, q["schema"]):
        validator = jsonschema_rs.validator_for(schema)
        assert validator.is_valid("王建国") and not validator.is_valid("王\x00") and not validator.is_valid("a\x85")


async def test_links_chain_to_operations_that_take_their_parameters(client):
    doc = (await client.get("/api/v1/openapi.json")).json()
    by_id = {op["operationId"]: op for methods in doc["paths"].values() for op in methods.values()}
    expected = {
        "create_booking": {"get_booking", "cancel_booking", "accept_offer", "start_payment", "get_payment"},
        "submit_complaint": {"get_complaint"},
        "join_waitlist": {"leave_waitlist"},
        "issue_token": {"get_me"},
        "refresh_token": {"get_me"},
    }
    for source, targets in expected.items():
        success = next(r for s, r in by_id[source]["responses"].items() if s.startswith("2"))
        links = success["links"]
        assert {link["operationId"] for link in links.values()} == targets
        for link in links.values():
            taken = {p["name"] for p in by_id[link["operationId"]]["parameters"]}
            for name, expression in link["parameters"].items():
                assert name in taken or name == "header.Authorization", (source, name)
                assert expression.startswith("$") or "{$response.body#/" in expression


async def test_json_integers_may_be_written_with_a_zero_fraction(client, city, catalogue, member):
    """JSON Schema's integer includes 4.0; the API reads it as 4 and still refuses 4.5 and "4"."""
    pid = catalogue.periods[catalogue.sessions[0].id][0].id
    for raw, status in ((f'{{"period_id": {pid}.5}}', 422), (f'{{"period_id": "{pid}"}}', 422),
                        (f'{{"period_id": {pid}.0}}', 201)):
        r = await client.post(url(city, "/bookings"), content=raw,
                              headers={**member.headers, "Content-Type": "application/json"})
        assert r.status_code == status, (raw, r.text)
    assert r.json()["period_id"] == pid
