"""Authorization against the hospital's FHIR server: SMART Backend Services (a JWT assertion
signed with our RS384 or ES384 key, verified by the server with the key registered for us; the
access token is kept until it expires), a fixed bearer token, and clear, retried errors when
the server refuses our credentials."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from guahao.core.his.sync import check_health
from guahao.plugins.his.fhir.auth import ASSERTION_TYPE
from guahao.tenants.context import use_city


def _keys(alg: str) -> tuple[str, str]:
    key = RSAKey.generate_key(2048) if alg == "RS384" else ECKey.generate_key("P-384")
    return key.as_pem(private=True).decode(), key.as_pem(private=False).decode()


async def _smart(fhir, alg: str = "RS384", registered: str | None = None) -> str:
    private, public = _keys(alg)
    fhir.server.auth = "smart"
    fhir.server.register_client("guahao-h1", registered or public, kid="k1")
    await fhir.configure(auth="smart", client_id="guahao-h1", key_id="k1", jwt_alg=alg,
                         secrets={"private_key": private})
    return private


@pytest.mark.parametrize("alg", ["RS384", "ES384"])
async def test_smart_backend_services_gets_one_token_and_uses_it(fhir, alg):
    await _smart(fhir, alg)
    b = await fhir.book()
    await fhir.drain()
    assert len(fhir.appointments(b.id)) == 1
    with use_city(fhir.city):
        health = await check_health(fhir.rt, fhir.cat.hospital.id)
    assert health.ok and "SMART token ok" in health.detail

    assert fhir.server.smart.answers == [(200, "")]  # one token for the push's calls and the health check
    calls = fhir.server.seen
    assert calls and all(r.headers["authorization"].startswith("Bearer ") for r in calls)
    assert len({r.headers["authorization"] for r in calls}) == 1


async def test_the_assertion_is_what_the_spec_asks_for(fhir):
    await _smart(fhir)
    with use_city(fhir.city):
        assert (await check_health(fhir.rt, fhir.cat.hospital.id)).ok
    [form] = fhir.server.smart.forms
    assert form["grant_type"] == "client_credentials" and form["client_assertion_type"] == ASSERTION_TYPE
    assert "system/Appointment.write" in form["scope"]
    token = jwt.decode(form["client_assertion"], fhir.server.smart.clients["guahao-h1"]["key"], algorithms=["RS384"])
    assert token.header["alg"] == "RS384" and token.header["kid"] == "k1" and token.header["typ"] == "JWT"
    claims = token.claims
    assert claims["iss"] == claims["sub"] == "guahao-h1" and claims["aud"] == f"{fhir.url}/auth/token"
    assert 0 < claims["exp"] - claims["iat"] <= 300 and claims["jti"]


async def test_a_key_the_server_did_not_register_is_refused_clearly_and_pushes_wait(fhir):
    _, other_public = _keys("RS384")
    await _smart(fhir, registered=other_public)
    with use_city(fhir.city):
        health = await check_health(fhir.rt, fhir.cat.hospital.id)
    assert not health.ok
    assert "refused client 'guahao-h1'" in health.detail and "invalid_client" in health.detail
    assert "signature does not verify" in health.detail

    b = await fhir.book()
    await fhir.drain()
    [row] = await fhir.outbox(booking_id=b.id)
    assert row.status == "pending" and "FhirAuthFailed" in row.last_error and "invalid_client" in row.last_error
    assert fhir.appointments(b.id) == []
    assert fhir.server.seen == []  # nothing reached the FHIR API without a token


async def test_a_fixed_bearer_token_is_sent_and_a_wrong_one_is_a_clear_retried_error(fhir):
    fhir.server.auth, fhir.server.token = "bearer", "hospital-issued-token-1234"
    await fhir.configure(auth="bearer", secrets={"token": "hospital-issued-token-1234"})
    b = await fhir.book()
    await fhir.drain()
    assert len(fhir.appointments(b.id)) == 1
    assert fhir.server.seen[-1].headers["authorization"] == "Bearer hospital-issued-token-1234"

    await fhir.configure(auth="bearer", secrets={"token": "an-old-revoked-token-5678"})
    b2 = await fhir.book(name="王五")
    await fhir.drain()
    [row] = await fhir.outbox(booking_id=b2.id)
    assert row.status == "pending" and "refused our credentials" in row.last_error and "401" in row.last_error
    assert "an-old-revoked-token-5678" not in row.last_error
