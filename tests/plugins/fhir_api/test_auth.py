"""OAuth 2.0 client credentials at ``/fhir/{city}/token``, bearer tokens, scopes, rate and
daily quota (429 OperationOutcome with Retry-After), and the wall between cities."""

from __future__ import annotations

import json
import uuid

from guahao.core.cli import main
from guahao.plugins.channels.fhir_api import clients
from tests.factories import make_catalogue, make_city

from .conftest import enable_fhir, make_member, patient, valid
from .test_operations import day_range


async def test_token_for_good_credentials_only(fhir_city):
    fc = fhir_city
    url = f"{fc.base}/token"
    good = await fc.client.post(url, data={"grant_type": "client_credentials"}, auth=(fc.client_id, fc.secret))
    assert good.status_code == 200 and good.headers["cache-control"] == "no-store"
    body = good.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and len(body["access_token"]) >= 40
    assert set(body["scope"].split()) == set(clients.SCOPES)
    # client_secret_post works too, and a narrower scope is granted as asked
    post = await fc.client.post(url, data={"grant_type": "client_credentials", "client_id": fc.client_id,
                                           "client_secret": fc.secret, "scope": "system/Slot.read"})
    assert post.status_code == 200 and post.json()["scope"] == "system/Slot.read"

    wrong = await fc.client.post(url, data={"grant_type": "client_credentials"}, auth=(fc.client_id, fc.secret + "x"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    unknown = await fc.client.post(url, data={"grant_type": "client_credentials"}, auth=("fc0000000000", fc.secret))
    assert unknown.status_code == 401 and unknown.json()["error"] == "invalid_client"
    grant = await fc.client.post(url, data={"grant_type": "password"}, auth=(fc.client_id, fc.secret))
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    scope = await fc.client.post(url, data={"grant_type": "client_credentials", "scope": "system/*.*"},
                                 auth=(fc.client_id, fc.secret))
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"

    assert (await fc.get("Practitioner", body["access_token"])).status_code == 200
    for token in (None, "not-a-token"):
        refused = await fc.get("Practitioner", token)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert valid(refused.json()).issue[0].code == "login"

    await clients.set_active(fc.rt, fc.city, fc.client_id, False)  # a disabled client's tokens stop
    assert (await fc.get("Practitioner", body["access_token"])).status_code == 401


async def test_token_requests_from_one_address_are_bounded(fhir_city):
    fc = fhir_city
    url = f"{fc.base}/token"
    statuses = [(await fc.client.post(url, data={"grant_type": "client_credentials"}, auth=(fc.client_id, "wrong"),
                                      headers={"X-Forwarded-For": "203.0.113.9"})).status_code for _ in range(21)]
    assert statuses == [401] * 20 + [429]
    r = await fc.client.post(url, data={"grant_type": "client_credentials"}, auth=(fc.client_id, fc.secret),
                             headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1 and r.json()["error"] == "invalid_request"
    assert (await fc.client.post(url, data={"grant_type": "client_credentials"}, auth=(fc.client_id, fc.secret),
                                 headers={"X-Forwarded-For": "203.0.113.10"})).status_code == 200


async def test_catalogue_searches_validate(fhir_city):
    fc = fhir_city
    token = await fc.token()
    practitioners = valid((await fc.get("Practitioner", token)).json())
    assert sorted(e.resource.name[0].text for e in practitioners.entry) == ["李秀英", "王建国"]
    location = valid((await fc.get(f"Location/{fc.cat.campus.id}", token)).json())
    assert location.name == "第一人民医院 本部" and location.address.country == "CN"
    services = valid((await fc.get("HealthcareService", token)).json())
    assert [e.resource.name for e in services.entry] == ["呼吸内科"]
    schedules = valid((await fc.get("Schedule", token, actor=f"Practitioner/{fc.cat.doctor.id}")).json())
    assert [e.resource.id for e in schedules.entry] == [f"{fc.cat.doctor.id}-{fc.cat.campus.id}"]
    slots = valid((await fc.get("Slot", token, schedule=f"Schedule/{fc.cat.doctor.id}-{fc.cat.campus.id}")).json())
    assert slots.total == 6 and {e.resource.status for e in slots.entry} == {"free"}
    page = valid((await fc.get("Slot", token, _count=2)).json())
    assert page.total == 12 and len(page.entry) == 2
    capacity = slots.entry[0].resource.extension[0]
    assert capacity.url.endswith("/slot-capacity") and capacity.valueInteger == 2
    assert (await fc.get("Practitioner/999999", token)).status_code == 404
    metadata = valid((await fc.client.get(f"{fc.base}/metadata")).json())
    assert metadata.fhirVersion == "4.0.1"
    appointment = next(r for r in metadata.rest[0].resource if r.type == "Appointment")
    assert {o.name for o in appointment.operation} == {"find", "hold", "book"}


async def test_each_call_is_metered_for_the_client(fhir_city):
    from tests.core.plugins.probes import outbox_rows

    fc = fhir_city
    token = await fc.token()
    for _ in range(2):
        assert (await fc.get("Location", token)).status_code == 200
    usage = [r.payload for r in await outbox_rows(fc.rt, fc.city, topic="usage.reported")
             if r.payload["meter"] == "api.third_party_calls"]
    assert len(usage) == 2 and usage[0]["dimensions"] == {"client": f"fhir_{fc.client_id}"}
    assert usage[0]["source_id"] != usage[1]["source_id"]


async def test_scope_refusal(fhir_city):
    fc = fhir_city
    row, secret = await clients.add_client(fc.rt, fc.city, "只读应用", scopes=["system/Slot.read"])
    token = await fc.token(row.client_id, secret)
    assert (await fc.op("find", token, day_range(fc, 1))).status_code == 200
    for name in ("hold", "book"):
        r = await fc.op(name, token, [{"name": "appointment-reference",
                                       "valueReference": {"reference": "Appointment/proposed-1"}}])
        assert r.status_code == 403 and valid(r.json()).issue[0].code == "forbidden"
    assert (await fc.get("Appointment", token)).status_code == 403


async def test_a_client_over_its_quota_gets_429(fhir_city):
    fc = fhir_city
    row, secret = await clients.add_client(fc.rt, fc.city, "配额应用", daily_quota=1)
    token = await fc.token(row.client_id, secret)
    proposed = [e.resource for e in valid((await fc.op("find", token, day_range(fc))).json()).entry]
    _, n1 = await make_member(fc.rt, fc.city, name="王五")
    _, n2 = await make_member(fc.rt, fc.city, name="赵六")
    ok = await fc.op("book", token, [{"name": "appointment-reference",
                                      "valueReference": {"reference": f"Appointment/{proposed[0].id}"}}, patient(n1, "王五")])
    assert ok.status_code == 200, ok.text
    over = await fc.op("book", token, [{"name": "appointment-reference",
                                        "valueReference": {"reference": f"Appointment/{proposed[-1].id}"}},
                                       patient(n2, "赵六")])
    assert over.status_code == 429 and int(over.headers["retry-after"]) > 0
    issue = valid(over.json()).issue[0]
    assert issue.code == "throttled" and issue.details.coding[0].code == "quota_exceeded" and "配额" in issue.diagnostics


async def test_a_client_over_its_rate_gets_429(fhir_city):
    fc = fhir_city
    row, secret = await clients.add_client(fc.rt, fc.city, "限流应用", rate_per_minute=2)
    token = await fc.token(row.client_id, secret)
    assert [(await fc.get("HealthcareService", token)).status_code for _ in range(2)] == [200, 200]
    r = await fc.get("HealthcareService", token)
    assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
    assert valid(r.json()).issue[0].details.coding[0].code == "rate_limited"


async def test_another_citys_client_cannot_read_this_city(fhir_city, rt):
    fc = fhir_city
    other = await make_city(rt, f"fo-{uuid.uuid4().hex[:6]}")
    await make_catalogue(rt, other)
    await enable_fhir(rt, other)
    row, secret = await clients.add_client(rt, other, "外市应用")
    theirs = (await fc.client.post(f"/fhir/{other.slug}/token", data={"grant_type": "client_credentials"},
                                   auth=(row.client_id, secret))).json()["access_token"]
    assert (await fc.client.get(f"/fhir/{other.slug}/Slot", headers={"Authorization": f"Bearer {theirs}"})).status_code == 200
    assert (await fc.get("Slot", theirs)).status_code == 401
    here = await fc.client.post(f"{fc.base}/token", data={"grant_type": "client_credentials"}, auth=(row.client_id, secret))
    assert here.status_code == 401


async def test_a_city_without_the_plugin_or_an_unknown_city_answers_404(rt, city, client):
    assert (await client.get(f"/fhir/{city.slug}/metadata")).status_code == 404
    assert (await client.get("/fhir/no-such-city/metadata")).status_code == 404


def test_client_cli(settings, monkeypatch, capsys):
    for name, value in (("DATABASE_URL", settings.database_url), ("GUAHAO_SECRET_KEY", settings.secret_key),
                        ("GUAHAO_DATA_KEY", settings.data_key)):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_APP_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    slug = f"fh{uuid.uuid4().hex[:8]}"
    assert main(["city", "create", slug, "接口市"]) == 0
    capsys.readouterr()
    assert main(["fhir", "client", "add", slug, "健康助手", "--scope", "system/Slot.read", "--quota", "7"]) == 0
    out = capsys.readouterr().out
    client_id = next(line.split()[1] for line in out.splitlines() if line.startswith("client_id:"))
    secret = next(line.split()[1] for line in out.splitlines() if line.startswith("client_secret:"))
    assert len(secret) >= 40
    assert main(["fhir", "client", "list", slug, "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed == {"client_id": client_id, "name": "健康助手", "scopes": ["system/Slot.read"], "daily_quota": 7,
                      "rate_per_minute": 120, "active": True}
    assert secret not in json.dumps(listed)
    assert main(["fhir", "client", "disable", slug, client_id]) == 0
    assert main(["fhir", "client", "disable", slug, "fc-nobody"]) == 1
