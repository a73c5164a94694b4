"""Member bearer tokens: HS256-signed JWTs (joserfc) bound to one city.

Claims: ``sub`` (member id), ``city`` (city id), ``gen`` (the member's session generation),
``iat``, ``exp`` and ``typ``. A token of another city, an expired, tampered or malformed one is
refused with ``Unauthorized``; the API then refuses a token whose ``gen`` is no longer the
member's (log-out or a new password since, ``core.members.sessions``). Access tokens are short
lived (``Settings.token_ttl_seconds``); refresh tokens (``core.members.refresh``) get new ones.

Tokens are signed with the current secret key and verified against it and the old keys
(``Settings.secret_keys``), so rotating the key does not log members out.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError
from joserfc.jwk import OctKey

from guahao.core.errors import Unauthorized
from guahao.core.logs import bind_member
from guahao.tenants.clock import utcnow
from guahao.tenants.settings import Settings

ALGORITHM = "HS256"
TOKEN_TYPE = "member_access"
MAX_TOKEN_LENGTH = 2048


def _key(settings: Settings) -> OctKey:
    return _derived_key(settings.secret_key)


def _decode(settings: Settings, token: str):
    """The token decoded with the first key whose signature matches (``BadSignatureError`` if none)."""
    for secret in settings.secret_keys[:-1]:
        try:
            return jwt.decode(token, _derived_key(secret), algorithms=[ALGORITHM])
        except BadSignatureError:
            continue
    return jwt.decode(token, _derived_key(settings.secret_keys[-1]), algorithms=[ALGORITHM])


@functools.lru_cache(maxsize=8)
def _derived_key(secret: str) -> OctKey:
    # A key of its own, derived from the secret, so tokens cannot be confused with other
    # things the secret signs (session cookies).
    raw = hmac.new(secret.encode(), b"guahao-member-token-v1", hashlib.sha256).digest()
    return OctKey.import_key(raw)


def issue(settings: Settings, *, member_id: int, city_id: int, generation: int = 0) -> tuple[str, int]:
    """A signed access token for a member of a city (at the member's session ``generation``),
    and its lifetime in seconds."""
    now = int(utcnow().timestamp())
    ttl = settings.token_ttl_seconds
    claims = {"sub": str(member_id), "city": city_id, "gen": generation, "iat": now, "exp": now + ttl,
              "typ": TOKEN_TYPE}
    return jwt.encode({"alg": ALGORITHM}, claims, _key(settings), algorithms=[ALGORITHM]), ttl


def verify(settings: Settings, token: str, *, city_id: int) -> int:
    """The member id of a valid token for ``city_id``; anything else is ``Unauthorized``."""
    return verify_claims(settings, token, city_id=city_id)[0]


def verify_claims(settings: Settings, token: str, *, city_id: int) -> tuple[int, int]:
    """The member id and session generation of a valid token for ``city_id`` (a token without
    ``gen`` is of generation 0); anything else is ``Unauthorized``."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise unauthorized("invalid", "访问令牌无效")
    try:
        decoded = _decode(settings, token)
        jwt.JWTClaimsRegistry(
            now=int(utcnow().timestamp()),
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            typ={"essential": True, "value": TOKEN_TYPE},
        ).validate(decoded.claims)
    except ExpiredTokenError:
        raise unauthorized("expired", "访问令牌已过期，请重新登录") from None
    except (JoseError, ValueError, TypeError, UnicodeError):
        raise unauthorized("invalid", "访问令牌无效") from None
    claims = decoded.claims
    city = claims.get("city")
    sub = claims["sub"]
    if type(city) is not int or city != city_id:
        raise unauthorized("other_city", "访问令牌不属于本城市平台")
    if not (sub.isascii() and sub.isdigit()) or len(sub) > 10:
        raise unauthorized("invalid", "访问令牌无效")
    generation = claims.get("gen", 0)
    if type(generation) is not int:
        raise unauthorized("invalid", "访问令牌无效")
    bind_member(int(sub))  # log lines of this request name the member (by id only)
    return int(sub), generation


def unauthorized(reason: str, message: str) -> Unauthorized:
    """The one refusal of a request without a valid token (``details.reason`` says why)."""
    exc = Unauthorized(message)
    exc.details = {"reason": reason}
    exc.headers = {"WWW-Authenticate": "Bearer" if reason == "missing" else 'Bearer error="invalid_token"'}
    return exc
