"""SMART Backend Services authorization (SMART App Launch 2.x, "backend services"):
``client_credentials`` with a signed JWT assertion (RFC 7523, ``private_key_jwt``).

1. The token endpoint comes from ``[base]/.well-known/smart-configuration``.
2. The assertion is a JWT signed with the hospital-registered key (RS384 or ES384), header
   ``kid``/``typ``, claims ``iss = sub = client_id``, ``aud`` = the token endpoint, ``exp`` five
   minutes ahead, a fresh ``jti`` (signed by authlib's RFC 7523 helper).
3. ``POST`` form ``grant_type=client_credentials``, ``scope``,
   ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``,
   ``client_assertion``; the answer's ``access_token`` is kept until shortly before
   ``expires_in`` runs out, per server, client, scope and key.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

import httpx
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from guahao.plugin_api import HttpClient, TransportError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; the spec allows at most five minutes
EARLY = 30  # seconds before expiry a cached token is renewed

_tokens: dict[tuple, tuple[str, float]] = {}
_endpoints: dict[str, tuple[str, float]] = {}
ENDPOINT_TTL = 3600.0


class FhirAuthFailed(RuntimeError):
    """Our SMART credentials were refused (or are missing): the message says what to fix.
    Retried like a HIS that is down, so waiting pushes go through once it is fixed."""


def forget_tokens() -> None:
    """Drop every cached access token and token endpoint (tests; a key rotation)."""
    _tokens.clear()
    _endpoints.clear()


def _oauth_error(response: httpx.Response) -> Any:
    if response.status_code == 200:
        return response.json()
    try:
        body = response.json()
    except ValueError:
        body = {}
    reason = ": ".join(str(body.get(k)) for k in ("error", "error_description") if body.get(k)) if isinstance(body, dict) \
        else ""
    temporary = response.status_code == 429 or response.status_code >= 500
    raise TransportError(f"HTTP {response.status_code}: {reason or response.reason_phrase}", permanent=not temporary,
                         code=f"http_{response.status_code}", status=response.status_code)


class SmartAuth:
    """Access tokens for one FHIR server from its SMART authorization server.

    Parameters:
        http: the (open) client the FHIR calls go through.
        base: the FHIR base URL, ending in ``/``.
        settings: ``client_id``, ``key_id``, ``jwt_alg``, ``scope``.
        secrets: ``private_key`` (PEM).
    """

    def __init__(self, http: HttpClient, base: str, settings: Mapping, secrets: Mapping) -> None:
        self.http, self.base = http, base
        self.client_id = str(settings.get("client_id") or "")
        self.key_id = str(settings.get("key_id") or "")
        self.alg = str(settings.get("jwt_alg") or "RS384")
        self.scope = str(settings.get("scope") or "")
        self.pem = str(secrets.get("private_key") or "")
        fingerprint = hashlib.sha256(self.pem.encode()).hexdigest()[:16]
        self._key = (base, self.client_id, self.scope, self.key_id, self.alg, fingerprint)

    def _signing_key(self) -> RSAKey | ECKey:
        if not self.client_id or not self.pem:
            raise FhirAuthFailed("auth=smart needs client_id (--set client_id=…) and a private key "
                                 "(--secret private_key=…)")
        try:
            return RSAKey.import_key(self.pem) if self.alg.startswith("RS") else ECKey.import_key(self.pem)
        except (JoseError, ValueError, TypeError) as exc:
            raise FhirAuthFailed(f"the SMART private key is not a PEM {self.alg} private key "
                                 f"({type(exc).__name__})") from None

    async def token_endpoint(self) -> str:
        """From ``.well-known/smart-configuration`` (cached for an hour)."""
        cached = _endpoints.get(self.base)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        try:
            config = await self.http.request("GET", self.base + ".well-known/smart-configuration",
                                             headers={"Accept": "application/json"}, classify=_oauth_error)
        except TransportError as exc:
            if exc.permanent:
                raise FhirAuthFailed(f"the FHIR server has no SMART configuration: {exc.message}") from None
            raise
        endpoint = str((config or {}).get("token_endpoint") or "")
        if not endpoint.startswith(("https://", "http://")):
            raise FhirAuthFailed("the SMART configuration names no token_endpoint")
        _endpoints[self.base] = (endpoint, time.monotonic() + ENDPOINT_TTL)
        return endpoint

    async def access_token(self, *, fresh: bool = False) -> str:
        """A valid access token: the cached one, or a new one from the token endpoint."""
        cached = _tokens.get(self._key)
        if cached and not fresh and cached[1] > time.monotonic():
            return cached[0]
        key = self._signing_key()
        endpoint = await self.token_endpoint()
        header = {"typ": "JWT", **({"kid": self.key_id} if self.key_id else {})}
        assertion = private_key_jwt_sign(key, self.client_id, endpoint, alg=self.alg, header=header,
                                         expires_in=ASSERTION_LIFETIME)
        form = {"grant_type": "client_credentials", "scope": self.scope, "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion}
        try:
            answer = await self.http.request("POST", endpoint, data=form, headers={"Accept": "application/json"},
                                             classify=_oauth_error, redact=[assertion])
        except TransportError as exc:
            if exc.permanent:
                raise FhirAuthFailed(f"the SMART token endpoint refused client {self.client_id!r}: {exc.message}"
                                     ) from None
            raise
        token = str((answer or {}).get("access_token") or "")
        if not token:
            raise FhirAuthFailed("the SMART token endpoint answered without an access_token")
        lifetime = float((answer or {}).get("expires_in") or 300)
        self.http.redact.append(token)
        _tokens[self._key] = (token, time.monotonic() + max(lifetime - EARLY, lifetime / 2))
        return token
