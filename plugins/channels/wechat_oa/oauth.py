"""Knowing a follower on the patient site: WeChat web OAuth (网页授权, ``snsapi_base``).

A page of the city's patient site opened inside WeChat (user agent ``MicroMessenger``) without
the plugin's cookie is sent through WeChat's authorize URL (:func:`site_request`, the web
channel's ``guahao_site_request`` hook). WeChat sends the visitor back to
``/c/{city}/plugins/wechat_oa/oauth?code=…&state=…&next=…`` (:func:`oauth_return`), where the
code is exchanged for the openid (``sns/oauth2/access_token``) and kept in a signed cookie of
this city. Once the visitor logs in as a member (one real-name log-in), the next page binds the
openid to the member (``channels.bind_openid``) and comes back once with the cookie noting it,
so browsing binds nothing again: notices then reach them as template messages.

The ``state`` is a random value also kept in a short cookie, so a code can only be brought back
by the browser that was sent for it (no one can slip their own openid into another's browser).
A failed or refused sign-in is remembered for an hour, so a visitor is never sent round in a loop.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from urllib.parse import quote, unquote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from guahao.plugin_api import DomainError, HttpClient, TransportError, channels, json_answer, wechat

log = logging.getLogger("guahao.wechat_oa")

NAME = "wechat_oa"
COOKIE = "guahao_wx"
STATE_COOKIE = "guahao_wx_state"
KNOWN_SECONDS = 30 * 24 * 3600
TRIED_SECONDS = 3600
STATE_SECONDS = 600
BROWSER = "micromessenger"


def in_wechat(request: Request) -> bool:
    return BROWSER in request.headers.get("user-agent", "").lower()


def _key(rt) -> bytes:
    return hmac.new(str(rt.settings.secret_key).encode(), b"guahao-wechat-oa-openid", hashlib.sha256).digest()


def _sign(rt, payload: dict) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return body + "." + hmac.new(_key(rt), body.encode(), hashlib.sha256).hexdigest()


def _unsign(rt, value: str) -> dict | None:
    body, _, mac = (value or "").partition(".")
    if not body or not hmac.compare_digest(mac.encode(), hmac.new(_key(rt), body.encode(), hashlib.sha256).hexdigest().encode()):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def known(request: Request, rt, city) -> dict | None:
    """The plugin's cookie of this city, unexpired: ``{"o": openid or "" (tried, failed)}``."""
    payload = _unsign(rt, request.cookies.get(COOKIE, ""))
    if payload is None or payload.get("c") != city.id or not isinstance(payload.get("e"), int) or payload["e"] < time.time():
        return None
    return payload if isinstance(payload.get("o"), str) else None


def _root(city) -> str:
    return f"/c/{city.slug}/"


def _set(response: Response, request: Request, name: str, value: str, max_age: int, city) -> None:
    response.set_cookie(name, value, max_age=max_age, path=_root(city), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


def _remember(response: Response, request: Request, rt, city, openid: str, member_id: int | None = None) -> None:
    """The cookie: the openid (``""``: the sign-in failed) and the member it was bound to here."""
    ttl = KNOWN_SECONDS if openid else TRIED_SECONDS
    payload = {"c": city.id, "o": openid, "m": member_id, "e": int(time.time()) + ttl}
    _set(response, request, COOKIE, _sign(rt, payload), ttl, city)


def safe_next(value: str | None, city) -> str:
    """A page of this city's site to go back to (never another host or city), else its home."""
    root = _root(city)
    if not isinstance(value, str) or len(value) > 500 or not value.startswith(root):
        return root
    plain = unquote(value)
    path = plain.split("?", 1)[0].split("#", 1)[0]
    if (not plain.startswith(root) or "//" in path or "\\" in plain
            or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in plain)
            or any(segment in (".", "..") for segment in path.split("/"))):
        return root
    return value


def _base(request: Request, settings) -> str:
    """Scheme and host the visitor sees (the site address setting's, when set)."""
    configured = str(settings.get("site_url") or "")
    if configured.startswith(("http://", "https://")):
        scheme, _, rest = configured.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"
    return f"{request.url.scheme}://{request.url.netloc}"


def authorize_url(settings, redirect_uri: str, state: str) -> str:
    """WeChat's authorize address (its parameters in the order WeChat documents them)."""
    query = urlencode({"appid": settings["app_id"], "redirect_uri": redirect_uri, "response_type": "code",
                       "scope": "snsapi_base", "state": state}, quote_via=quote)
    return f"{str(settings.get('oauth_endpoint') or 'https://open.weixin.qq.com').rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


def start(request: Request, city, settings) -> Response:
    """Send the visitor through WeChat's authorize URL, back to this page afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = f"{_base(request, settings)}/c/{city.slug}/plugins/{NAME}/oauth?" + urlencode({"next": safe_next(here, city)})
    state = secrets.token_hex(16)  # WeChat takes letters and digits only, up to 128
    response = RedirectResponse(authorize_url(settings, back, state), status_code=302)
    _set(response, request, STATE_COOKIE, state, STATE_SECONDS, city)
    return response


async def site_request(city, request: Request, member_id, rt) -> Response | None:
    """A page of the patient site: inside WeChat, first the sign-in; then, for a logged-in
    member, the binding of the openid (``None``: show the page)."""
    if not in_wechat(request):
        return None
    plugins = await rt.plugins.for_city(city)
    settings = plugins.settings(NAME)
    if not settings.get("oauth", True) or not settings.get("app_id"):
        return None
    cookie = known(request, rt, city)
    if cookie is None:
        return start(request, city, settings)
    if cookie["o"] and member_id is not None and cookie.get("m") != member_id:
        # the first page after a log-in in this browser: bind, once (the cookie remembers it, so
        # a follower who later unfollows is not bound again by browsing)
        try:
            if await channels.bind_openid(rt, member_id, cookie["o"]):
                log.info("WeChat follower bound to member %s in city %s", member_id, city.slug)
        except DomainError as exc:  # e.g. an openid longer than WeChat's: leave the page be
            log.warning("WeChat openid not bound to member %s in city %s: %s", member_id, city.slug, exc.code)
        response = RedirectResponse(request.url.path + (f"?{request.url.query}" if request.url.query else ""),
                                    status_code=303)
        _remember(response, request, rt, city, cookie["o"], member_id)
        return response
    return None


async def _exchange(settings, secret: str, code: str, transport=None) -> str:
    """The openid of a sign-in ``code`` (``sns/oauth2/access_token``); raises ``TransportError``."""
    endpoint = str(settings.get("endpoint") or "https://api.weixin.qq.com").rstrip("/")

    def openid_of(response):
        body = json_answer(response)
        if not body.get("openid"):
            errcode = body.get("errcode", -1)
            raise wechat.WeChatError(errcode if isinstance(errcode, int) else -1, str(body.get("errmsg", "")),
                                     what="sign-in refused: ")
        return str(body["openid"])

    async with HttpClient.from_settings(NAME, settings, transport=transport, redact=[secret, code]) as http:
        return await http.request("GET", f"{endpoint}/sns/oauth2/access_token", classify=openid_of, params={
            "appid": settings["app_id"], "secret": secret, "code": code, "grant_type": "authorization_code"})


async def oauth_return(request: Request) -> Response:
    """Where WeChat sends the visitor back: the openid kept, then on to the page they opened."""
    rt, city = request.app.state.rt, request.state.city
    plugins = await rt.plugins.for_city(city)
    settings, secret = plugins.settings(NAME), str(plugins.secrets(NAME).get("app_secret") or "")
    query = request.query_params
    response = RedirectResponse(safe_next(query.get("next"), city), status_code=303)
    response.delete_cookie(STATE_COOKIE, path=_root(city))
    expected, state, code = request.cookies.get(STATE_COOKIE, ""), query.get("state", ""), query.get("code", "")
    openid = ""
    if not expected or not state or not hmac.compare_digest(expected.encode(), state.encode()):
        log.warning("WeChat sign-in for city %s came back without its state", city.slug)
    elif code and settings.get("app_id") and secret:
        try:
            openid = (await _exchange(settings, secret, code))[:64]
        except TransportError as exc:
            log.warning("WeChat sign-in for city %s failed: %s", city.slug, exc)
    _remember(response, request, rt, city, openid)
    return response
