"""The far end of an official account, as WeChat speaks it.

:class:`FakeWeChatServer` is the local WeChat API (``tests.fakes.wechat.FakeWeChat``: token,
template send) plus ``cgi-bin/menu/create``, the web OAuth authorize page (302 back to the
``redirect_uri`` with a one-time ``code`` and the ``state``) and ``sns/oauth2/access_token``.
Who is signing in is the webview's user, named by the test with the ``X-WeChat-User`` header.

:class:`WeChatPusher` is WeChat pushing to an account's server URL: it signs every request
(``signature`` over token, timestamp and nonce) and, in safe mode, encrypts the message and
signs ``msg_signature`` — written from the documented protocol with ``cryptography`` alone
(AES-256-CBC, key = Base64(EncodingAESKey + "="), IV = key[:16], PKCS#7 to 32 bytes, plaintext
16 random bytes + 4-byte big-endian length + XML + AppID), not with the library the plugin uses.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import string
import struct
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.wechat import FakeWeChat

CODE_SECONDS = 300


class FakeWeChatServer(FakeWeChat):
    """State besides the base's: ``menus`` (appid → the last body pushed, as raw text),
    ``codes`` (one-time sign-in codes → (appid, openid, issued)), ``authorized`` (the
    authorize requests seen)."""

    def __init__(self):
        super().__init__()
        self.menus: dict[str, str] = {}
        self.codes: dict[str, tuple[str, str, float]] = {}
        self.authorized: list[dict] = []
        self.app.router.routes.extend([
            Route("/cgi-bin/menu/create", self.menu_create, methods=["POST"]),
            Route("/connect/oauth2/authorize", self.authorize, methods=["GET"]),
            Route("/sns/oauth2/access_token", self.sns_token, methods=["GET"]),
        ])

    async def menu_create(self, request: Request) -> JSONResponse:
        app_id = self.tokens.get(request.query_params.get("access_token", ""))
        if app_id is None:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        raw = (await request.body()).decode("utf-8")
        try:
            body = json.loads(raw)
        except ValueError:
            return JSONResponse({"errcode": 40018, "errmsg": "invalid button size"})
        buttons = body.get("button") if isinstance(body, dict) else None
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return JSONResponse({"errcode": 40016, "errmsg": "invalid button size"})
        for button in buttons:
            for b in button.get("sub_button") or [button]:
                if b.get("type") == "view" and not str(b.get("url", "")).startswith("http"):
                    return JSONResponse({"errcode": 40055, "errmsg": "invalid button url domain"})
                if b.get("type") == "click" and not b.get("key"):
                    return JSONResponse({"errcode": 40019, "errmsg": "invalid button key size"})
        self.menus[app_id] = raw
        return JSONResponse({"errcode": 0, "errmsg": "ok"})

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        self.authorized.append(dict(q))
        if q.get("appid") not in self.apps or q.get("response_type") != "code" or q.get("scope") not in (
                "snsapi_base", "snsapi_userinfo") or not q.get("redirect_uri") \
                or not re.fullmatch(r"[A-Za-z0-9]{0,128}", q.get("state", "")):
            return Response("参数错误", status_code=400)
        openid = request.headers.get("x-wechat-user", "")
        if not openid:
            return Response("请在微信客户端打开链接", status_code=400)
        code = uuid.uuid4().hex
        self.codes[code] = (q["appid"], openid, time.time())
        target = q["redirect_uri"] + ("&" if "?" in q["redirect_uri"] else "?") + urlencode(
            {"code": code, "state": q.get("state", "")})
        return RedirectResponse(target, status_code=302)

    async def sns_token(self, request: Request) -> JSONResponse:
        q = request.query_params
        if q.get("grant_type") != "authorization_code":
            return JSONResponse({"errcode": 40002, "errmsg": "invalid grant_type"})
        if q.get("appid") not in self.apps or self.apps[q["appid"]] != q.get("secret"):
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        issued = self.codes.pop(q.get("code", ""), None)
        if issued is None or issued[0] != q["appid"] or time.time() - issued[2] > CODE_SECONDS:
            return JSONResponse({"errcode": 40029, "errmsg": "invalid code"})
        return JSONResponse({"access_token": uuid.uuid4().hex, "expires_in": 7200, "refresh_token": uuid.uuid4().hex,
                             "openid": issued[1], "scope": "snsapi_base"})


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    assert len(key) == 32
    return key


def encrypt(encoding_aes_key: str, app_id: str, xml: str) -> str:
    key, text = _aes_key(encoding_aes_key), xml.encode()
    plain = os.urandom(16) + struct.pack(">I", len(text)) + text + app_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def decrypt(encoding_aes_key: str, app_id: str, encrypted: str) -> str:
    key = _aes_key(encoding_aes_key)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(base64.b64decode(encrypted)) + decryptor.finalize()
    plain = plain[:-plain[-1]]
    length = struct.unpack(">I", plain[16:20])[0]
    assert plain[20 + length:].decode() == app_id, "the reply is not for this AppID"
    return plain[20:20 + length].decode()


def new_aes_key() -> str:
    """An EncodingAESKey as the WeChat admin generates one: 43 letters and digits."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(43))


def cdata(value: str) -> str:
    return f"<![CDATA[{value}]]>"


@dataclass
class Push:
    """One signed request as WeChat would send it: path with query, and body."""

    url: str
    body: bytes
    nonce: str
    timestamp: str


@dataclass
class WeChatPusher:
    """WeChat's side of an account's server URL (``path``), for one account.

    Parameters:
        client: the HTTP client reaching the app.
        path: the server URL path (``/c/{city}/plugins/wechat_oa/callback``).
        token, app_id, aes_key: the account's configuration (``aes_key``: ``""`` for plain mode).
        account: the account's own id (``gh_…``), the ``ToUserName`` of pushes.
    """

    client: object
    path: str
    token: str
    app_id: str
    aes_key: str = ""
    account: str = "gh_0123456789ab"
    clock_offset: int = 0

    def query(self, timestamp: str | None = None, nonce: str | None = None, **extra) -> dict:
        timestamp = timestamp or str(int(time.time()) + self.clock_offset)
        nonce = nonce or str(secrets.randbelow(10**9))
        return {"signature": signature(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, **extra}

    async def verify(self, echostr: str = "echo-1234567890", **query):
        q = {**self.query(), "echostr": echostr, **query}
        return await self.client.get(self.path + "?" + urlencode(q))

    def xml(self, openid: str, msg_type: str, create_time: int | None = None, **fields) -> str:
        parts = [f"<ToUserName>{cdata(self.account)}</ToUserName>", f"<FromUserName>{cdata(openid)}</FromUserName>",
                 f"<CreateTime>{create_time or int(time.time())}</CreateTime>", f"<MsgType>{cdata(msg_type)}</MsgType>"]
        for name, value in fields.items():
            parts.append(f"<{name}>{value if isinstance(value, int) else cdata(str(value))}</{name}>")
        return "<xml>" + "".join(parts) + "</xml>"

    def build(self, xml: str, *, safe: bool | None = None, timestamp: str | None = None) -> Push:
        safe = bool(self.aes_key) if safe is None else safe
        q = self.query(timestamp)
        if not safe:
            return Push(self.path + "?" + urlencode(q), xml.encode(), q["nonce"], q["timestamp"])
        encrypted = encrypt(self.aes_key, self.app_id, xml)
        q.update(encrypt_type="aes", msg_signature=signature(self.token, q["timestamp"], q["nonce"], encrypted))
        # safe mode: the body carries ToUserName and Encrypt only
        body = f"<xml><ToUserName>{cdata(self.account)}</ToUserName><Encrypt>{cdata(encrypted)}</Encrypt></xml>"
        return Push(self.path + "?" + urlencode(q), body.encode(), q["nonce"], q["timestamp"])

    async def send(self, push: Push):
        return await self.client.post(push.url, content=push.body, headers={"Content-Type": "text/xml"})

    async def text(self, openid: str, content: str, msg_id: int | None = None, **kw):
        xml = self.xml(openid, "text", Content=content, MsgId=msg_id or secrets.randbelow(10**15))
        return await self.send(self.build(xml, **kw))

    async def event(self, openid: str, event: str, key: str | None = None, create_time: int | None = None, **kw):
        fields = {"Event": event, **({"EventKey": key} if key is not None else {})}
        return await self.send(self.build(self.xml(openid, "event", create_time, **fields), **kw))

    def read_reply(self, response, push_query: dict | None = None) -> dict:
        """The reply's fields (decrypted and its signature checked in safe mode); ``{}`` for
        ``success`` or an empty body."""
        body = response.text
        if body in ("", "success"):
            return {}
        root = ET.fromstring(body)
        if root.find("Encrypt") is not None:
            encrypted = root.findtext("Encrypt")
            assert root.findtext("MsgSignature") == signature(self.token, root.findtext("TimeStamp"),
                                                               root.findtext("Nonce"), encrypted)
            root = ET.fromstring(decrypt(self.aes_key, self.app_id, encrypted))
        return {child.tag: child.text for child in root}


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
