"""The SMART Backend Services authorization server of the fake FHIR server.

``.well-known/smart-configuration`` names the token endpoint; the token endpoint takes
``grant_type=client_credentials`` with ``client_assertion_type=urn:ietf:params:oauth:
client-assertion-type:jwt-bearer`` and a JWT ``client_assertion`` (RFC 7523), verifies its
signature (RS384 or ES384) with the public key registered for the client (``kid`` must match
when one was registered), its claims (``iss = sub = client_id``, ``aud`` = the token endpoint,
``exp`` at most five minutes ahead, a ``jti`` not seen before), and issues a short-lived bearer
token. Errors are OAuth errors: ``{"error": "invalid_client", "error_description": …}``.
"""

from __future__ import annotations

import json
import secrets
import time

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import extract_compact
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 300


class OAuthProblem(Exception):
    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.text = status, code, text


class SmartAuthorizationServer:
    """Registered clients, issued tokens and what each token request sent (for tests)."""

    def __init__(self) -> None:
        self.clients: dict[str, dict] = {}
        self.issued: dict[str, float] = {}
        self.jtis: set[str] = set()
        self.answers: list[tuple[int, str]] = []  # (status, error) of each token request
        self.forms: list[dict] = []  # what each token request sent

    def register_client(self, client_id: str, public_key_pem: str, kid: str = "") -> None:
        """Register a backend client's public key (RSA for RS384, EC P-384 for ES384)."""
        try:
            key: RSAKey | ECKey = RSAKey.import_key(public_key_pem)
        except (JoseError, ValueError, TypeError):
            key = ECKey.import_key(public_key_pem)
        self.clients[client_id] = {"key": key, "kid": kid}

    def valid(self, token: str) -> bool:
        """``token`` was issued here and has not expired."""
        return self.issued.get(token, 0) > time.time()

    async def configuration(self, request: Request) -> Response:
        """``.well-known/smart-configuration``."""
        base = str(request.base_url).rstrip("/")
        return JSONResponse({
            "token_endpoint": f"{base}/auth/token", "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
            "scopes_supported": ["system/*.read", "system/Appointment.write"],
            "capabilities": ["client-confidential-asymmetric"]})

    async def token_endpoint(self, request: Request) -> Response:
        """``client_credentials`` with a JWT assertion → a bearer access token (or an OAuth error)."""
        form = {k: str(v) for k, v in (await request.form()).items()}
        self.forms.append(form)
        status, error, text = 200, "", ""
        try:
            if form.get("grant_type") != "client_credentials":
                raise OAuthProblem(400, "unsupported_grant_type", "grant_type must be client_credentials")
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise OAuthProblem(400, "invalid_request", "client_assertion_type must be jwt-bearer")
            claims = self._verify_assertion(str(form.get("client_assertion") or ""), f"{request.base_url}auth/token")
        except OAuthProblem as p:
            status, error, text = p.status, p.code, p.text
        self.answers.append((status, error))
        if status != 200:
            return JSONResponse({"error": error, "error_description": text}, status_code=status)
        token = secrets.token_urlsafe(24)
        self.issued[token] = time.time() + TOKEN_LIFETIME
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME,
                             "scope": str(form.get("scope") or ""), "client_id": claims["iss"]},
                            headers={"Cache-Control": "no-store"})

    def _verify_assertion(self, assertion: str, audience: str) -> dict:
        try:
            compact = extract_compact(assertion.encode())
            header, unverified = compact.headers(), json.loads(compact.payload)
        except Exception:
            raise OAuthProblem(400, "invalid_client", "client_assertion is not a JWT") from None
        if header.get("alg") not in ("RS384", "ES384"):
            raise OAuthProblem(400, "invalid_client", f"alg {header.get('alg')!r} not accepted (RS384, ES384)")
        client = self.clients.get(str(unverified.get("iss") or ""))
        if client is None:
            raise OAuthProblem(401, "invalid_client", f"client {unverified.get('iss')!r} is not registered")
        if client["kid"] and header.get("kid") != client["kid"]:
            raise OAuthProblem(401, "invalid_client", f"kid {header.get('kid')!r} is not the registered key")
        try:
            claims = jwt.decode(assertion, client["key"], algorithms=[header["alg"]]).claims
        except (JoseError, ValueError):
            raise OAuthProblem(401, "invalid_client", "the assertion's signature does not verify with the registered key"
                          ) from None
        now = time.time()
        if claims.get("sub") != claims.get("iss"):
            raise OAuthProblem(401, "invalid_client", "sub must equal iss (the client_id)")
        aud = claims.get("aud")
        if audience not in (aud if isinstance(aud, list) else [aud]):
            raise OAuthProblem(401, "invalid_client", f"aud must be the token endpoint {audience}")
        if not isinstance(claims.get("exp"), int) or not now - 5 < claims["exp"] <= now + 305:
            raise OAuthProblem(401, "invalid_client", "exp must be in the next five minutes")
        if not claims.get("jti") or claims["jti"] in self.jtis:
            raise OAuthProblem(401, "invalid_client", "jti missing or used before")
        self.jtis.add(claims["jti"])
        return claims
