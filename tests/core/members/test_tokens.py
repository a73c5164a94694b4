"""Member bearer tokens: bound to a city, expiring, tamper-evident."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from guahao.core.errors import Unauthorized
from guahao.core.members.tokens import TOKEN_TYPE, issue, verify, verify_claims
from guahao.tenants.clock import frozen
from guahao.tenants.settings import Settings

SETTINGS = Settings(secret_key="token-test-secret-" + "s" * 40, token_ttl_seconds=3600)
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def refused(token, *, city_id=7, settings=SETTINGS) -> str:
    with pytest.raises(Unauthorized) as exc:
        verify(settings, token, city_id=city_id)
    assert exc.value.code == "unauthorized" and exc.value.status == 401
    return exc.value.details["reason"]


def test_round_trip_and_claims():
    with frozen(T0):
        token, ttl = issue(SETTINGS, member_id=42, city_id=7)
        assert ttl == 3600
        assert verify(SETTINGS, token, city_id=7) == 42
    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert payload == {"sub": "42", "city": 7, "gen": 0, "iat": int(T0.timestamp()),
                       "exp": int(T0.timestamp()) + 3600, "typ": TOKEN_TYPE}
    with frozen(T0):
        token, _ = issue(SETTINGS, member_id=42, city_id=7, generation=3)
        assert verify_claims(SETTINGS, token, city_id=7) == (42, 3)


def test_another_citys_token_is_refused():
    with frozen(T0):
        token, _ = issue(SETTINGS, member_id=42, city_id=7)
        assert refused(token, city_id=8) == "other_city"


def test_expired_token_is_refused():
    with frozen(T0):
        token, _ = issue(SETTINGS, member_id=42, city_id=7)
    with frozen(T0 + timedelta(seconds=3599)):
        assert verify(SETTINGS, token, city_id=7) == 42
    with frozen(T0 + timedelta(seconds=3601)):
        assert refused(token) == "expired"


def test_tampered_token_is_refused():
    with frozen(T0):
        token, _ = issue(SETTINGS, member_id=42, city_id=7)
        header, payload, sig = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["sub"] = "43"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        assert refused(f"{header}.{forged}.{sig}") == "invalid"
        assert refused(f"{header}.{payload}.{sig[:-2]}AA") == "invalid"


def test_token_signed_with_another_secret_is_refused():
    other = Settings(secret_key="another-secret-" + "o" * 40)
    with frozen(T0):
        token, _ = issue(other, member_id=42, city_id=7)
        assert refused(token) == "invalid"


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b", "...", "x" * 5000, "ey.ey.ey", "\u00e9.\u00e9.\u00e9"])
def test_malformed_tokens_are_refused(token):
    with frozen(T0):
        assert refused(token) == "invalid"


def test_unsigned_token_and_token_signed_with_a_guessed_key_are_refused():
    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    now = int(T0.timestamp())
    claims = {"sub": "1", "city": 7, "iat": now, "exp": now + 60, "typ": TOKEN_TYPE}
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    guessed = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(SETTINGS.secret_key.encode()))
    with frozen(T0):
        assert refused(unsigned) == "invalid"
        assert refused(guessed) == "invalid"  # the signing key is derived, not the raw secret


def test_wrong_type_or_subject_is_refused():
    from guahao.core.members import tokens

    now = int(T0.timestamp())
    key = tokens._key(SETTINGS)

    def signed(claims) -> str:
        return jwt.encode({"alg": "HS256"}, claims, key)

    base = {"sub": "1", "city": 7, "iat": now, "exp": now + 60, "typ": TOKEN_TYPE}
    with frozen(T0):
        assert verify(SETTINGS, signed(base), city_id=7) == 1
        assert refused(signed({**base, "typ": "refresh"})) == "invalid"
        assert refused(signed({k: v for k, v in base.items() if k != "exp"})) == "invalid"
        assert refused(signed({**base, "sub": "abc"})) == "invalid"
        assert refused(signed({**base, "city": "7"})) == "other_city"
        assert refused(signed({**base, "city": True})) == "other_city"
