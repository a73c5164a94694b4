"""``POST /fhir/{city}/token``: the OAuth 2.0 token endpoint, client credentials grant only
(RFC 6749 §4.4). The client authenticates with HTTP Basic (``client_secret_basic``) or with
``client_id`` and ``client_secret`` in the form (``client_secret_post``); the answer is a
bearer token with its lifetime and scopes, ``Cache-Control: no-store``. Errors follow §5.2;
more than 20 requests a minute from one address answer 429 with ``Retry-After``."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from starlette.responses import JSONResponse

from guahao.plugin_api import ValidationFailed

from .clients import issue_token
from .http import Call
from .throttle import admit_token_request

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FORM = 4096


def _error(status: int, error: str, description: str, **headers) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={**NO_STORE, **headers})


def _basic(request) -> tuple[str, str] | None:
    kind, _, value = (request.headers.get("authorization") or "").partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        ident, _, secret = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(ident), unquote(secret)


async def token(request):
    call = Call(request, None)
    await call.load_settings()
    wait = await admit_token_request(call.city, request.client.host if request.client else "")
    if wait is not None:
        return _error(429, "invalid_request", f"请求过于频繁，请 {wait} 秒后再试。/ Too many token requests; retry in {wait} s.",
                      **{"Retry-After": str(wait)})
    if len(await request.body()) > MAX_FORM or "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return _error(400, "invalid_request", "请求应为 application/x-www-form-urlencoded 表单。")
    form = await request.form()
    if form.get("grant_type") != "client_credentials":
        return _error(400, "unsupported_grant_type", "只支持 client_credentials。/ Only client_credentials is supported.")
    basic = _basic(request)
    ident, secret = basic if basic else (str(form.get("client_id") or ""), str(form.get("client_secret") or ""))
    if not ident or not secret:
        return _error(401, "invalid_client", "缺少客户端凭证。/ Client credentials are missing.",
                      **{"WWW-Authenticate": 'Basic realm="fhir"'})
    try:
        issued = await issue_token(call.rt, call.city, ident, secret, str(form.get("scope") or "") or None,
                                   int(call.settings.get("token_minutes") or 60))
    except ValidationFailed as exc:
        return _error(400, "invalid_scope", exc.message)
    if issued is None:
        return _error(401, "invalid_client", "客户端凭证无效。/ Invalid client credentials.",
                      **{"WWW-Authenticate": 'Basic realm="fhir"'})
    access, scopes, seconds = issued
    return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": seconds, "scope": " ".join(scopes)},
                        headers=NO_STORE)
