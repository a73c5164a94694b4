"""A local Tencent Cloud SMS endpoint: verifies TC3-HMAC-SHA256 as the API does (key chain
from the secret, scope date, timestamp skew) and records accepted ``SendSms`` calls. Written
from the protocol, independent of the sender's code."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from datetime import datetime, timezone

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MAX_SKEW_SECONDS = 300


def _error(code: str, message: str) -> JSONResponse:
    return JSONResponse({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}})


class FakeTencentSms:
    """State: ``keys`` (SecretId → SecretKey), ``apps`` (SdkAppId), ``templates`` (id →
    number of parameters), ``sent``, ``inject`` (SecretId → queue of per-number status codes)."""

    def __init__(self):
        self.keys: dict[str, str] = {}
        self.templates: dict[str, int] = {}
        self.sent: list[dict] = []
        self.inject: dict[str, deque] = defaultdict(deque)
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/", self.endpoint, methods=["POST"])])

    def add_key(self) -> tuple[str, str]:
        secret_id, secret_key = f"AKID{uuid.uuid4().hex[:20]}", uuid.uuid4().hex
        self.keys[secret_id] = secret_key
        return secret_id, secret_key

    def messages(self, secret_id: str) -> list[dict]:
        return [m for m in self.sent if m["secret_id"] == secret_id]

    async def endpoint(self, request: Request) -> JSONResponse:
        body = await request.body()
        auth = request.headers.get("authorization", "")
        prefix = "TC3-HMAC-SHA256 "
        if not auth.startswith(prefix):
            return _error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        fields = dict(p.strip().split("=", 1) for p in auth[len(prefix):].split(","))
        credential = fields.get("Credential", "").split("/")
        if len(credential) != 4 or credential[2:] != ["sms", "tc3_request"]:
            return _error("AuthFailure.SignatureFailure", "Credential scope is invalid.")
        secret_id, day = credential[0], credential[1]
        secret_key = self.keys.get(secret_id)
        if secret_key is None:
            return _error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        try:
            ts = int(request.headers.get("x-tc-timestamp", ""))
        except ValueError:
            return _error("AuthFailure.InvalidAuthorization", "X-TC-Timestamp is missing.")
        if abs(time.time() - ts) > MAX_SKEW_SECONDS:
            return _error("AuthFailure.SignatureExpire", "Signature expired.")
        if day != datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d"):
            return _error("AuthFailure.SignatureFailure", "The credential date does not match the timestamp.")
        if fields.get("SignedHeaders") != "content-type;host":
            return _error("AuthFailure.SignatureFailure", "SignedHeaders must be content-type;host.")
        canonical = "\n".join([
            "POST", "/", "",
            f"content-type:{request.headers.get('content-type', '')}\nhost:{request.headers.get('host', '')}\n",
            "content-type;host", hashlib.sha256(body).hexdigest(),
        ])
        to_sign = f"TC3-HMAC-SHA256\n{ts}\n{day}/sms/tc3_request\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = f"TC3{secret_key}".encode()
        for part in (day, "sms", "tc3_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, fields.get("Signature", "")):
            return _error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        if request.headers.get("x-tc-action") != "SendSms" or request.headers.get("x-tc-version") != "2021-01-11":
            return _error("InvalidAction", "The action is not supported.")
        payload = json.loads(body)
        if str(payload.get("TemplateId")) not in self.templates:
            return _error("FailedOperation.TemplateIncorrectOrUnapproved", "Template is not approved or not found.")
        if len(payload.get("TemplateParamSet") or []) != self.templates[str(payload["TemplateId"])]:
            return _error("InvalidParameterValue.TemplateParameterFormatError", "Template parameter count mismatch.")
        statuses = []
        for phone in payload.get("PhoneNumberSet") or []:
            statuses.append(self._one(secret_id, phone, payload))
        return JSONResponse({"Response": {"SendStatusSet": statuses, "RequestId": str(uuid.uuid4())}})

    def _one(self, secret_id: str, phone: str, payload: dict) -> dict:
        serial = f"2645:{uuid.uuid4().int % 10**20}"
        status = {"SerialNo": serial, "PhoneNumber": phone, "Fee": 1, "SessionContext": payload.get("SessionContext", ""),
                  "Code": "Ok", "Message": "send success", "IsoCode": "CN"}
        with self._lock:
            if self.inject[secret_id]:
                status.update(Code=self.inject[secret_id].popleft(), Message="injected", Fee=0)
                return status
            if not (phone.startswith("+861") and len(phone) == 14 and phone[1:].isdigit()):
                status.update(Code="InvalidParameterValue.IncorrectPhoneNumber", Message="手机号格式错误", Fee=0)
                return status
            self.sent.append({"secret_id": secret_id, "serial": serial, "phone": phone, "sign": payload.get("SignName"),
                              "app": payload.get("SmsSdkAppId"), "template": str(payload.get("TemplateId")),
                              "params": payload.get("TemplateParamSet"), "context": payload.get("SessionContext")})
        return status
