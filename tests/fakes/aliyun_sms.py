"""A local Alibaba Cloud Dysmsapi endpoint: verifies ACS3-HMAC-SHA256 the way the gateway
does, rebuilding the canonical request from the ``SignedHeaders`` it is told, and records
accepted ``SendSms`` calls. Written from the protocol, independent of the sender's code."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import uuid
from collections import defaultdict, deque
from datetime import datetime, timezone
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

MAX_SKEW_SECONDS = 900


def _enc(value: str) -> str:
    return quote(value, safe="-_.~")


class FakeAliyunSms:
    """State: ``keys`` (AccessKeyId → secret), ``templates`` (code → variables required),
    ``sent`` (accepted messages), ``inject`` (AccessKeyId → queue of error codes to answer),
    ``outages`` (AccessKeyId → queue of HTTP statuses answered with a plain-text page, as a
    failing load balancer does), ``delays`` (AccessKeyId → queue of seconds to wait before
    answering)."""

    def __init__(self):
        self.keys: dict[str, str] = {}
        self.templates: dict[str, set[str]] = {}
        self.sent: list[dict] = []
        self.refused: list[dict] = []
        self.inject: dict[str, deque] = defaultdict(deque)
        self.outages: dict[str, deque] = defaultdict(deque)
        self.delays: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/", self.endpoint, methods=["POST", "GET"])])

    def add_key(self, secret: str | None = None) -> tuple[str, str]:
        key_id, secret = f"LTAI{uuid.uuid4().hex[:16]}", secret or uuid.uuid4().hex
        self.keys[key_id] = secret
        return key_id, secret

    def messages(self, key_id: str) -> list[dict]:
        return [m for m in self.sent if m["key_id"] == key_id]

    def _error(self, status: int, code: str, message: str, key_id: str = "") -> JSONResponse:
        self.refused.append({"key_id": key_id, "code": code})
        return JSONResponse({"RequestId": uuid.uuid4().hex, "Code": code, "Message": message, "HostId": "dysmsapi"}, status)

    async def endpoint(self, request: Request) -> Response:
        key_id = request.headers.get("authorization", "").partition("Credential=")[2].partition(",")[0]
        with self._lock:
            delay = self.delays[key_id].popleft() if self.delays[key_id] else 0
            outage = self.outages[key_id].popleft() if self.outages[key_id] else None
        if delay:
            await asyncio.sleep(delay)
        if outage is not None:
            return PlainTextResponse(f"<html>{outage} upstream unavailable</html>", outage)
        return await self._checked(request)

    async def _checked(self, request: Request) -> JSONResponse:
        body = await request.body()
        auth = request.headers.get("authorization", "")
        if not auth.startswith("ACS3-HMAC-SHA256 "):
            return self._error(400, "MissingAuthorization", "Authorization is mandatory for this action.")
        fields = dict(part.strip().split("=", 1) for part in auth[len("ACS3-HMAC-SHA256 "):].split(","))
        key_id, signed, given = fields.get("Credential", ""), fields.get("SignedHeaders", ""), fields.get("Signature", "")
        secret = self.keys.get(key_id)
        if secret is None:
            return self._error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.", key_id)
        names = signed.split(";")
        required = {"host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"}
        if not required <= set(names) or names != sorted(names):
            return self._error(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.", key_id)
        if hashlib.sha256(body).hexdigest() != request.headers.get("x-acs-content-sha256"):
            return self._error(400, "IncompleteSignature", "The x-acs-content-sha256 does not match the body.", key_id)
        query_pairs = parse_qsl(request.url.query, keep_blank_values=True)
        query = "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in query_pairs))
        headers = "".join(f"{n}:{request.headers.get(n, '').strip()}\n" for n in names)
        canonical = "\n".join([request.method, request.url.path or "/", query, headers, signed, hashlib.sha256(body).hexdigest()])
        to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
        expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, given):
            return self._error(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.", key_id)
        try:
            at = datetime.strptime(request.headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except (KeyError, ValueError):
            return self._error(400, "InvalidTimeStamp.Format", "Specified time stamp is not valid.", key_id)
        if abs((datetime.now(timezone.utc) - at).total_seconds()) > MAX_SKEW_SECONDS:
            return self._error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.", key_id)
        if request.headers.get("x-acs-action") != "SendSms" or request.headers.get("x-acs-version") != "2017-05-25":
            return self._error(400, "InvalidAction.NotFound", "Specified api is not found.", key_id)
        params = dict(query_pairs)
        with self._lock:
            if self.inject[key_id]:
                code = self.inject[key_id].popleft()
                return JSONResponse({"RequestId": uuid.uuid4().hex, "Code": code, "Message": code})
        return JSONResponse(self._send(key_id, params))

    def _send(self, key_id: str, params: dict) -> dict:
        phones = params.get("PhoneNumbers", "").split(",")
        if not all(p.isdigit() and len(p) == 11 and p.startswith("1") for p in phones):
            return {"RequestId": uuid.uuid4().hex, "Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"}
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return {"RequestId": uuid.uuid4().hex, "Code": "isv.INVALID_JSON_PARAM", "Message": "JSON参数不合法"}
        required = self.templates.get(params.get("TemplateCode", ""))
        if required is None:
            return {"RequestId": uuid.uuid4().hex, "Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "模板不存在"}
        if not required <= set(values):
            return {"RequestId": uuid.uuid4().hex, "Code": "isv.TEMPLATE_MISSING_PARAMETERS", "Message": "模板缺少变量"}
        biz_id = f"{len(self.sent) + 1:06d}^{uuid.uuid4().hex[:10]}"
        with self._lock:
            self.sent.append({"key_id": key_id, "biz_id": biz_id, "phones": phones, "sign": params.get("SignName"),
                              "template": params.get("TemplateCode"), "values": values, "out_id": params.get("OutId")})
        return {"RequestId": uuid.uuid4().hex, "Code": "OK", "Message": "OK", "BizId": biz_id}
