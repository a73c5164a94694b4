"""Staff single sign-on through the city's OpenID Connect provider (authlib's Starlette client).

``/console/c/{city}/sso/login`` sends the browser to the provider; ``…/sso/callback`` exchanges
the code, and authlib checks the ID token's signature (the provider's JWKS), issuer, audience,
expiry and nonce. The person is matched to an existing active account of the city
(``core.staff.sso.find_account``); nobody is created from a token.

authlib keeps its state and nonce in ``request.session``. We give it a plain dict read from a
signed cookie of our own and write the dict back afterwards. That cookie is separate from the
console session because it must be SameSite=Lax: the provider's redirect back is a cross-site
navigation, on which a SameSite=Strict cookie is not sent. For the same reason the callback
answers with a page that continues to the console, so the Strict session cookie is sent on
the next (same-site) request.
"""

from __future__ import annotations

import html
import logging

from authlib.integrations.starlette_client import OAuth
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from guahao.core.errors import Forbidden, NotFound, Unauthorized
from guahao.core.staff.auth import logged_in, usable
from guahao.core.staff.sso import client_secret, find_account, get_provider
from guahao.core.web.session import is_https
from guahao.core.web.signing import sign, unsign

from ..kit.pages import Console, console_page

log = logging.getLogger("guahao.console.sso")

COOKIE = "guahao_console_sso"
PURPOSE = "guahao-console-sso"
MAX_AGE = 600

_clients: dict[tuple, object] = {}


def _client(city_id: int, provider) -> object:
    """authlib's client for the city's provider, built once per configuration."""
    key = (city_id, provider.discovery_url, provider.client_id, provider.client_secret_encrypted, provider.updated_at)
    client = _clients.get(key)
    if client is None:
        for old in [k for k in _clients if k[0] == city_id]:
            del _clients[old]
        oauth = OAuth()
        client = oauth.register(
            name=f"city{city_id}", client_id=provider.client_id, client_secret=client_secret(provider),
            server_metadata_url=provider.discovery_url, client_kwargs={"scope": "openid email profile"},
        )
        _clients[key] = client
    return client


def _cookie_path(c: Console) -> str:
    return f"/console/c/{c.city.slug}/sso/"


def _attach_state(c: Console) -> dict:
    data = unsign(c.rt.settings.secret_keys, c.request.cookies.get(COOKIE, ""), PURPOSE) or {}
    c.request.scope["session"] = data
    return data


def _store_state(c: Console, response: Response, data: dict) -> Response:
    if data:
        response.set_cookie(COOKIE, sign(c.rt.settings.secret_key, data, PURPOSE), max_age=MAX_AGE,
                            path=_cookie_path(c), httponly=True, samesite="lax", secure=is_https(c.request))
    else:
        response.delete_cookie(COOKIE, path=_cookie_path(c))
    return response


async def _provider(c: Console):
    async with c.transaction() as s:
        provider = await get_provider(s)
    if provider is None or not provider.enabled:
        raise NotFound("single sign-on", code="sso_not_configured")
    return provider


@console_page(anonymous=True)
async def sso_login(c: Console) -> Response:
    provider = await _provider(c)
    data = _attach_state(c)
    redirect_uri = f"{c.request.base_url}console/c/{c.city.slug}/sso/callback"
    try:
        response = await _client(c.city.id, provider).authorize_redirect(c.request, redirect_uri)
    except Exception as exc:  # the provider's discovery document is unreachable or broken
        log.warning("sso discovery failed for %s: %r", c.city.slug, exc)
        raise Unauthorized("单点登录服务暂时不可用 / the single sign-on service is not reachable",
                           code="sso_unavailable") from None
    return _store_state(c, c.finish(response), data)


def _refuse(c: Console, status: int, code: str, message: str) -> Response:
    response = c.render("error.html", status=status, code=code, message=message)
    return _store_state(c, response, {})


@console_page(anonymous=True)
async def sso_callback(c: Console) -> Response:
    provider = await _provider(c)
    _attach_state(c)
    try:
        token = await _client(c.city.id, provider).authorize_access_token(c.request)
    except Exception as exc:  # bad state, signature, nonce, issuer, audience or expiry; provider errors
        log.warning("sso callback refused for %s: %r", c.city.slug, exc)
        return _refuse(c, 401, "sso_failed", c._("Single sign-on failed: the answer of the identity provider "
                                                   "could not be verified. Please try again."))
    claims = token.get("userinfo")
    if not claims:
        return _refuse(c, 401, "sso_failed", c._("Single sign-on failed: the identity provider sent no ID token."))
    async with c.transaction() as s:
        account = await find_account(s, provider, claims)
        if account is None or not usable(account):
            error = Forbidden("sso_unknown", "no account")
        else:
            error = None
            logged_in(s, account, c.ip, method="sso")
    if error is not None:
        return _refuse(c, 403, error.code, c._(
            "You signed in at the identity provider, but no active staff account of this city is linked to "
            "that identity. Please ask your city administrator."))
    c.session.log_in("staff", account.id, c.city.id, c.city.slug, account.session_generation)
    target = f"/console/c/{c.city.slug}/"
    page = (f'<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={html.escape(target)}">'
            f'<title>{html.escape(c._("Signed in"))}</title><p><a href="{html.escape(target)}">'
            f'{html.escape(c._("Continue to the console"))}</a></p>')
    return _store_state(c, c.finish(HTMLResponse(page)), {})


def routes() -> list:
    return [
        Route("/c/{city}/sso/login", sso_login, methods=["GET"]),
        Route("/c/{city}/sso/callback", sso_callback, methods=["GET"]),
    ]
