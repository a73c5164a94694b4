"""Property-based conformance: schemathesis generates requests from /api/v1/openapi.json and
checks every answer (no 5xx, documented status, content type, headers, body schema).

Cases are generated with Hypothesis and sent through httpx's ASGI transport on the test's own
event loop (the database pool belongs to it), then validated with schemathesis' checks.
"""

from __future__ import annotations

import json
import uuid
from datetime import time, timedelta

import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from guahao.core.catalogue.schedule import PeriodSpec, create_session
from guahao.core.models import Campus, Department, Doctor, Hospital, RegistrationType
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.factories import make_catalogue, make_city

from .conftest import signup

EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


async def demo_like_city(rt):
    """A general hospital (pay at hospital), a specialty hospital (online payment) in a district,
    a community centre; doctors of every title; sessions with reserved pools over four days."""
    city = await make_city(rt, f"st-{uuid.uuid4().hex[:6]}")
    cat = await make_catalogue(rt, city, days_ahead=4, periods=3, capacity=2, extra_pools={"onsite": 1})
    with use_city(city):
        async with rt.db.transaction() as s:
            from sqlalchemy import select

            from guahao.core.models import District

            district = (await s.scalars(select(District).order_by(District.code))).first()
            eye = Hospital(code="H2", name="示例市眼科医院", kind="specialty", level=3, grade="乙",
                           district_id=district.id, payment_mode="online")
            community = Hospital(code="H3", name="东城社区卫生服务中心", kind="community", level=1,
                                 district_id=district.id)
            s.add_all([eye, community])
            await s.flush()
            campus = Campus(hospital_id=eye.id, name="本部")
            dept = Department(hospital_id=eye.id, code="10", name="眼科")
            rtype = RegistrationType(hospital_id=eye.id, code="specialist", name="专科", fee_fen=2500)
            s.add_all([campus, dept, rtype, Department(hospital_id=community.id, code="50", name="中医科")])
            await s.flush()
            doctors = [Doctor(hospital_id=eye.id, department_id=dept.id, name=n, title=t, specialty="白内障")
                       for n, t in (("陈明", "associate_chief"), ("刘洋", "resident"))]
            s.add_all(doctors)
            await s.flush()
            today = utcnow().astimezone(city.tz).date()
            for offset in range(1, 4):
                for doc in doctors:
                    await create_session(
                        s, hospital=eye, doctor=doc, campus_id=campus.id, registration_type=rtype,
                        day=today + timedelta(days=offset), half_day="pm",
                        periods=[PeriodSpec(time(14, 0), time(14, 30), {"public": 1})],
                    )
            return city, cat, [eye.id, community.id], [d.id for d in doctors], dept.id


def narrow(doc: dict, slug: str, ids: dict[str, list[int]]) -> dict:
    """Point the generated requests at the test city and at ids that exist (plus one that does not)."""
    doc = json.loads(json.dumps(doc))
    for methods in doc["paths"].values():
        for op in methods.values():
            for p in op["parameters"]:
                if p["name"] == "city":
                    p["schema"] = {"type": "string", "enum": [slug]}
                elif p["name"] in ids:
                    p["schema"] = {"type": "integer", "enum": ids[p["name"]] + [999_999]}
    schemas = doc["components"]["schemas"]
    schemas["BookingRequest"]["properties"]["period_id"] = {"type": "integer", "enum": ids["period_id"] + [999_999]}
    schemas["WaitlistRequest"]["properties"]["session_id"] = {"type": "integer", "enum": ids["session_id"] + [999_999]}
    return doc


def generate(operation, n: int, **kwargs) -> list:
    cases = []

    @hypothesis_settings(
        max_examples=n, database=None, deadline=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(**kwargs))
    def collect(case):
        cases.append(case)

    collect()
    return cases


async def test_api_conforms_to_its_openapi_document(client, rt):
    city, cat, hospital_ids, doctor_ids, eye_dept = await demo_like_city(rt)
    member = await signup(client, rt, city)
    doc = (await client.get("/api/v1/openapi.json")).json()
    periods = [p.id for ps in cat.periods.values() for p in ps]
    ids = {
        "hospital_id": [cat.hospital.id, *hospital_ids],
        "department_id": [cat.department.id, eye_dept],
        "doctor_id": [cat.doctor.id, cat.doctor2.id, *doctor_ids],
        "entry_id": [1, 2],
        "period_id": periods,
        "session_id": [s.id for s in cat.sessions],
    }
    schema = schemathesis.openapi.from_dict(narrow(doc, city.slug, ids))
    failures: list[str] = []
    sent = 0
    statuses: dict[str, set[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        for case in generate(operation, EXAMPLES_PER_OPERATION, headers=dict(member.headers)):
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            body = {k: kwargs[k] for k in ("json", "data") if k in kwargs}
            if "json" in body:
                body = {"content": json.dumps(body["json"]).encode()}
            elif "data" in body:
                body = {"content": body["data"]}
            response = await client.request(
                kwargs["method"], kwargs["url"], params=kwargs.get("params"), headers=kwargs.get("headers"), **body
            )
            sent += 1
            statuses.setdefault(operation.label, set()).add(response.status_code)
            try:
                case.validate_response(response, checks=CHECKS)
            except (AssertionError, FailureGroup) as exc:  # one failure, or a group of them
                failures.append(f"{operation.label} {kwargs['url']} {kwargs.get('params')} -> "
                                f"{response.status_code} {response.text[:300]}\n{exc}")
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n\n".join(failures[:10])
    assert len(statuses) == sum(len(methods) for methods in doc["paths"].values())
    # The run reached the happy paths, not only refusals.
    assert 200 in statuses["GET /api/v1/{city}/availability"]
    assert 201 in statuses["POST /api/v1/{city}/bookings"]
    assert 200 in statuses["GET /api/v1/{city}/hospitals/{hospital_id}"]
