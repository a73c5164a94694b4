"""Property-based conformance: schemathesis runs every check it has against API v1, logged in
as a member, in all its phases (explicit examples, coverage, fuzzing with valid and invalid
data, and stateful sequences that follow the document's links).

Requests reach the app in this process on the test's own event loop (the database pool belongs
to it): schemathesis' engine runs in a worker thread and calls a small ASGI bridge that hands
each request to the loop.

One check is the API's own: every 4xx ``error.code`` is listed for that operation and status.
``object_level_authorization`` runs but needs peers of schemathesis' WFC auth to probe anything;
one member's objects being another's 404 is tested directly (test_isolation_api, the complaint,
survey and payment tests).
"""

from __future__ import annotations

import asyncio
import collections
import json
import uuid
from datetime import time, timedelta

import schemathesis
from hypothesis import strategies as hst
from schemathesis import engine as st_engine
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

from guahao.core.api.schemas import ID_NUMBER_FORMAT
from guahao.core.catalogue.schedule import PeriodSpec, create_session
from guahao.core.models import Campus, Department, Doctor, Hospital, RegistrationType
from guahao.tenants.clock import utcnow
from guahao.tenants.context import use_city
from tests.factories import make_catalogue, make_city

from .conftest import id_number, signup

# Examples per operation and phase; with the stateful phase the whole run stays under a minute.
EXAMPLES_PER_OPERATION = 8


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
    schemas["ComplaintRequest"]["properties"]["hospital_id"] = {"type": "integer",
                                                                "enum": ids["hospital_id"] + [999_999]}
    return doc


@schemathesis.check
def error_code_documented(ctx, response, case) -> None:
    """A 4xx answer's ``error.code`` is one the document lists for that operation and status
    (``x-error-codes``); 405 answers methods the path does not have, outside any operation."""
    if not 400 <= response.status_code < 500 or response.status_code == 405:
        return None
    documented = case.operation.definition.raw["responses"].get(str(response.status_code), {})
    code = json.loads(response.content)["error"]["code"]
    if code not in documented.get("x-error-codes", []):
        raise AssertionError(f"{case.operation.label} answered {response.status_code} {code}, "
                             f"documented: {documented.get('x-error-codes')}")
    return None


def bridge(app, loop: asyncio.AbstractEventLoop):
    """An ASGI app for schemathesis' own client (on its thread's loop) that answers each request
    with ``app`` running on ``loop``."""

    async def asgi(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                done = message["type"] == "lifespan.shutdown"
                await send({"type": "lifespan.shutdown.complete" if done else "lifespan.startup.complete"})
                if done:
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break

        async def run() -> list[dict]:
            sent: list[dict] = []
            delivered = False

            async def app_receive():
                nonlocal delivered
                if delivered:  # the app waits for a disconnect that never comes
                    await asyncio.Event().wait()
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}

            async def app_send(message):
                sent.append(message)

            await app(scope, app_receive, app_send)
            return sent

        for message in await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(run(), loop)):
            await send(message)

    return asgi


def run_schemathesis(doc: dict, app, loop, headers: dict) -> tuple[list[str], collections.Counter, dict]:
    """Every phase and every check; returns the failures, how often each check ran and the
    statuses each operation answered."""
    config = SchemathesisConfig.from_dict({
        "headers": headers,
        "checks": {"enabled": True},
        "generation": {"max-examples": EXAMPLES_PER_OPERATION, "database": "none", "deterministic": True,
                       "mode": "all"},
    })
    # JSON Schema cannot state an ID number's check digit; the document names it format gb11643.
    schemathesis.openapi.format(ID_NUMBER_FORMAT, hst.integers(1, 7_000_000).map(id_number))
    schema = schemathesis.openapi.from_dict(doc, config=config)
    schema.app = bridge(app, loop)
    schema.config.update(base_url="http://testserver")
    failures: list[str] = []
    ran: collections.Counter = collections.Counter()
    statuses: dict[str, set[int]] = {}
    for event in st_engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for case_id, interaction in recorder.interactions.items():
                if interaction.response is not None:
                    label = recorder.cases[case_id].value.operation.label
                    statuses.setdefault(label, set()).add(interaction.response.status_code)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    ran[check.name] += 1
                    if check.failure_info is not None:
                        case = recorder.cases[case_id].value
                        failure = check.failure_info.failure
                        failures.append(f"[{check.name}] {case.operation.label} path={case.path_parameters} "
                                        f"query={case.query} body={case.body!r:.200}\n{failure.title}: {failure.message}")
        elif isinstance(event, events.NonFatalError):
            failures.append(f"[error] {event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            raise event.exception
    return failures, ran, statuses


async def test_api_passes_every_schemathesis_check(client, rt, app):
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
    failures, ran, statuses = await asyncio.to_thread(
        run_schemathesis, narrow(doc, city.slug, ids), app, asyncio.get_running_loop(), dict(member.headers)
    )
    assert not failures, f"{len(failures)} failures:\n" + "\n\n".join(failures[:10])
    assert set(CHECKS.get_all_names()) <= set(ran), set(CHECKS.get_all_names()) - set(ran)
    assert len(statuses) == sum(len(methods) for methods in doc["paths"].values())
    # The run reached the happy paths and followed the links, not only refusals.
    assert 200 in statuses["GET /api/v1/{city}/availability"]
    assert 201 in statuses["POST /api/v1/{city}/bookings"]
    assert 200 in statuses["GET /api/v1/{city}/bookings/{booking_id}"]
    assert 200 in statuses["POST /api/v1/{city}/bookings/{booking_id}/cancel"]
    assert 200 in statuses["GET /api/v1/{city}/hospitals/{hospital_id}"]
    assert 201 in statuses["POST /api/v1/{city}/complaints"]
    assert 200 in statuses["GET /api/v1/{city}/complaints/{complaint_id}"]
    assert 204 in statuses["POST /api/v1/{city}/bookings"]  # OPTIONS, answered with Allow
