"""A local Twilio REST API for outbound calls: ``POST /2010-04-01/Accounts/{sid}/Calls.json``.

Written from the API's documentation, independent of the sender's code: HTTP Basic auth with
the account sid and auth token (401 ``20003`` otherwise, and the path's account must be the
authenticated one), form fields ``To`` and ``From`` in E.164 (400 ``21211``/``21212``; ``From``
must be a number of the account), ``Twiml`` (a ``<Response>`` document) or ``Url`` (400
``21205`` when neither). An accepted call is answered 201 with the call's JSON
(``sid`` = ``CA`` + 32 hex digits, ``status`` ``queued``) and kept in :attr:`calls`.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from collections import deque

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

E164 = re.compile(r"^\+[1-9]\d{1,14}$")


class FakeTwilioCalls:
    """State: ``accounts`` (sid → auth token), ``numbers`` (sid → numbers it may call from),
    ``calls`` (accepted calls: account, to, from, twiml, says, sid), ``outages`` (a queue of
    HTTP statuses to answer before accepting again)."""

    def __init__(self) -> None:
        self.accounts: dict[str, str] = {}
        self.numbers: dict[str, set[str]] = {}
        self.calls: list[dict] = []
        self.outages: deque[int] = deque()
        self.url = ""
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/2010-04-01/Accounts/{sid}/Calls.json", self.create_call,
                                           methods=["POST"])])

    def add_account(self, caller: str = "+861012320") -> tuple[str, str]:
        sid, token = "AC" + uuid.uuid4().hex, uuid.uuid4().hex
        self.accounts[sid] = token
        self.numbers[sid] = {caller}
        return sid, token

    def calls_of(self, sid: str) -> list[dict]:
        return [c for c in self.calls if c["account"] == sid]

    @staticmethod
    def _error(status: int, code: int, message: str) -> JSONResponse:
        return JSONResponse({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                             "status": status}, status_code=status)

    def _account(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if self.accounts.get(user) == password and password else None

    async def create_call(self, request: Request) -> JSONResponse:
        if self.outages:
            status = self.outages.popleft()
            return self._error(status, 20500 if status >= 500 else 20429, "Service unavailable")
        account = self._account(request)
        if account is None or account != request.path_params["sid"]:
            return self._error(401, 20003, "Authenticate")
        form = {k: str(v) for k, v in (await request.form()).items()}
        to, caller, twiml = form.get("To", ""), form.get("From", ""), form.get("Twiml", "")
        if not E164.match(to):
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not E164.match(caller) or caller not in self.numbers.get(account, set()):
            return self._error(400, 21212, f"The 'From' number {caller} is not a valid phone number or "
                                            "is not owned by this account.")
        if not twiml and not form.get("Url"):
            return self._error(400, 21205, "Url or Twiml parameter is required.")
        says: list[dict] = []
        if twiml:
            try:
                root = ET.fromstring(twiml)
            except ET.ParseError:
                return self._error(400, 12100, "Document parse failure")
            if root.tag != "Response":
                return self._error(400, 12100, "Document parse failure")
            says = [{"text": v.text or "", "language": v.get("language")} for v in root.iter("Say")]
        sid = "CA" + uuid.uuid4().hex
        with self._lock:
            self.calls.append({"account": account, "sid": sid, "to": to, "from": caller, "twiml": twiml, "says": says})
        return JSONResponse({
            "sid": sid, "account_sid": account, "to": to, "from": caller, "status": "queued",
            "direction": "outbound-api", "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json",
        }, status_code=201)
