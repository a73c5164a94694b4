"""A local OpenID Connect provider: discovery document, JWKS, authorization endpoint and token
endpoint issuing RS256-signed ID tokens (joserfc). Written from the protocol (OIDC Core 1.0,
authorization code flow), independent of the console's client code.

State: ``clients`` (client id → {secret, redirect_uris}), ``login_as`` (the claims of the person
who "signs in" at the next authorization), ``tamper`` (one of ``TAMPER`` to send a bad token
next), ``issued`` (ID token claims handed out).
"""

from __future__ import annotations

import base64
import secrets
import time
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

TAMPER = ("wrong_key", "wrong_nonce", "wrong_audience", "expired", "no_id_token")


class FakeOidcProvider:
    def __init__(self):
        self.url = ""  # set once served
        self.key = RSAKey.generate_key(2048, parameters={"kid": "fake-1", "use": "sig", "alg": "RS256"})
        self._other_key = RSAKey.generate_key(2048, parameters={"kid": "fake-1", "use": "sig", "alg": "RS256"})
        self.clients: dict[str, dict] = {}
        self.login_as: dict = {"sub": "nobody"}
        self.tamper: str | None = None
        self.issued: list[dict] = []
        self._codes: dict[str, dict] = {}
        self.app = Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
        ])

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def add_client(self, redirect_uri: str) -> tuple[str, str]:
        client_id, secret = f"client-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        self.clients[client_id] = {"secret": secret, "redirect_uris": {redirect_uri}}
        return client_id, secret

    async def discovery(self, request: Request) -> Response:
        return JSONResponse({
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": ["openid", "email", "profile"],
        })

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        client = self.clients.get(q.get("client_id", ""))
        if client is None or q.get("redirect_uri") not in client["redirect_uris"]:
            return JSONResponse({"error": "invalid_client"}, 400)
        if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split():
            return JSONResponse({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(16)
        self._codes[code] = {"client_id": q["client_id"], "redirect_uri": q["redirect_uri"], "nonce": q.get("nonce"),
                             "claims": dict(self.login_as)}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}", 302)

    def _client_auth(self, request: Request, form) -> str | None:
        auth = request.headers.get("authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        client = self.clients.get(client_id)
        return client_id if client and secrets.compare_digest(client["secret"], secret) else None

    async def token(self, request: Request) -> Response:
        form = await request.form()
        client_id = self._client_auth(request, form)
        if client_id is None:
            return JSONResponse({"error": "invalid_client"}, 401)
        grant = self._codes.pop(str(form.get("code", "")), None)
        if grant is None or grant["client_id"] != client_id or grant["redirect_uri"] != form.get("redirect_uri"):
            return JSONResponse({"error": "invalid_grant"}, 400)
        tamper, self.tamper = self.tamper, None
        now = int(time.time())
        claims = {"iss": self.url, "aud": client_id, "iat": now, "exp": now + 300, "nonce": grant["nonce"],
                  **grant["claims"]}
        if tamper == "wrong_nonce":
            claims["nonce"] = "not-the-nonce"
        elif tamper == "wrong_audience":
            claims["aud"] = "someone-else"
        elif tamper == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        key = self._other_key if tamper == "wrong_key" else self.key
        self.issued.append(claims)
        body = {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300}
        if tamper != "no_id_token":
            body["id_token"] = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        return JSONResponse(body)
