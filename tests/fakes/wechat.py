"""A local WeChat API: ``/cgi-bin/token`` checks the app secret and issues short tokens;
``/cgi-bin/message/template/send`` checks the token and dedupes on ``client_msg_id``."""

from __future__ import annotations

import threading
import uuid

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class FakeWeChat:
    """State: ``apps`` (appid → secret), ``templates`` (ids), ``openids``, ``sent``,
    ``token_requests`` (count per appid); ``revoke(appid)`` expires its tokens."""

    def __init__(self):
        self.apps: dict[str, str] = {}
        self.templates: set[str] = set()
        self.openids: set[str] = set()
        self.tokens: dict[str, str] = {}  # token → appid
        self.token_requests: dict[str, int] = {}
        self.sent: list[dict] = []
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self.app = Starlette(routes=[
            Route("/cgi-bin/token", self.token, methods=["GET"]),
            Route("/cgi-bin/message/template/send", self.send, methods=["POST"]),
        ])

    def add_app(self) -> tuple[str, str]:
        app_id, secret = f"wx{uuid.uuid4().hex[:16]}", uuid.uuid4().hex
        self.apps[app_id] = secret
        return app_id, secret

    def revoke(self, app_id: str) -> None:
        self.tokens = {t: a for t, a in self.tokens.items() if a != app_id}

    async def token(self, request: Request) -> JSONResponse:
        q = request.query_params
        if q.get("grant_type") != "client_credential":
            return JSONResponse({"errcode": 40002, "errmsg": "invalid grant_type"})
        if q.get("appid") not in self.apps:
            return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"})
        if self.apps[q["appid"]] != q.get("secret"):
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        token = uuid.uuid4().hex
        with self._lock:
            self.tokens[token] = q["appid"]
            self.token_requests[q["appid"]] = self.token_requests.get(q["appid"], 0) + 1
        return JSONResponse({"access_token": token, "expires_in": 7200})

    async def send(self, request: Request) -> JSONResponse:
        app_id = self.tokens.get(request.query_params.get("access_token", ""))
        if app_id is None:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
        body = await request.json()
        if body.get("touser") not in self.openids:
            return JSONResponse({"errcode": 40003, "errmsg": "invalid openid"})
        if body.get("template_id") not in self.templates:
            return JSONResponse({"errcode": 40037, "errmsg": "invalid template_id"})
        data = body.get("data") or {}
        if not data or not all(isinstance(v, dict) and "value" in v for v in data.values()):
            return JSONResponse({"errcode": 47001, "errmsg": "data format error"})
        with self._lock:
            key = (body["touser"], str(body.get("client_msg_id", "")))
            if body.get("client_msg_id") and key in self._seen:
                return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": self._seen[key]})
            msgid = len(self.sent) + 1000
            self._seen[key] = msgid
            self.sent.append({"app_id": app_id, "msgid": msgid, **body})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": msgid})
