"""A small FHIR R4 server standing in for a hospital's, for tests and the demo.

It speaks FHIR R4 JSON as a hospital server would: ``metadata``; read, search (with paging
through ``next`` links), create (conditional with ``If-None-Exist``) and update (``If-Match``)
of Practitioner, HealthcareService, Location, Patient, Schedule, Slot, Appointment and
Encounter; every resource it receives is validated with its ``fhir.resources`` model and the
R4 status codes; errors are OperationOutcomes. A booked Appointment takes its Slot (``busy``
once its ``slot-capacity`` is used) and a cancelled one gives it back.

Authorization (``auth``): ``none``; ``bearer`` (a fixed token); or ``smart``: SMART Backend
Services, with ``.well-known/smart-configuration`` and the token endpoint of
:mod:`.fake_smart` (clients registered with :meth:`FakeFhirServer.register_client`).

``fail_next`` answers the next matching calls with an error status and an OperationOutcome.

Search parameters: ``_id``, ``_count``, ``identifier`` on every type; Schedule ``active``,
``actor``, ``_include=Schedule:actor``; Slot ``schedule``, ``start``, ``status``; Practitioner
``name``; Appointment ``date``, ``status``, ``patient``; Encounter ``date``, ``appointment``.
Unknown parameters are refused (400), so a client cannot rely on what the server ignores.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .fake_smart import SmartAuthorizationServer

FHIR_JSON = "application/fhir+json"
TYPES = ("Practitioner", "HealthcareService", "Location", "Patient", "Schedule", "Slot", "Appointment", "Encounter")
STATUSES = {
    "Slot": {"busy", "free", "busy-unavailable", "busy-tentative", "entered-in-error"},
    "Appointment": {"proposed", "pending", "booked", "arrived", "fulfilled", "cancelled", "noshow", "entered-in-error",
                    "checked-in", "waitlist"},
    "Encounter": {"planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error",
                  "unknown"},
}
PARAMS = {
    "Schedule": {"active", "actor", "_include"}, "Slot": {"schedule", "start", "status"}, "Practitioner": {"name"},
    "Appointment": {"date", "status", "patient"}, "Encounter": {"date", "appointment"},
}
DATES = {"Slot": "start", "Appointment": "start", "Encounter": "period.start"}
CAPACITY_EXT = "http://fhir-registry.smarthealthit.org/StructureDefinition/slot-capacity"


class Problem(Exception):
    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.text = status, code, text


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]


def outcome(code: str, text: str, severity: str = "error") -> dict:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": severity, "code": code, "diagnostics": text}]}
    return get_fhir_model_class("OperationOutcome").model_validate(body).model_dump(mode="json", exclude_none=True)


def _fhir(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def _instant(value: str) -> datetime:
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _span(value: str) -> tuple[datetime, datetime]:
    """The range a date search value covers: a day, or one second."""
    if len(value) == 10:
        lo = datetime.fromisoformat(value).replace(tzinfo=UTC)
        return lo, lo + timedelta(days=1)
    lo = _instant(value)
    return lo, lo + timedelta(seconds=1)


def _date_matches(at: datetime | None, spec: str) -> bool:
    prefix, value = (spec[:2], spec[2:]) if spec[:2] in ("ge", "gt", "le", "lt", "eq", "ne") else ("eq", spec)
    if at is None:
        return False
    lo, hi = _span(value)
    return {"ge": at >= lo, "gt": at >= hi, "lt": at < lo, "le": at < hi, "eq": lo <= at < hi,
            "ne": not lo <= at < hi}[prefix]


def _token_matches(identifiers: list[dict], spec: str) -> bool:
    for alt in spec.split(","):
        system, bar, value = alt.rpartition("|")
        for ident in identifiers or []:
            if bar and system and ident.get("system") != system:
                continue
            if bar and not system and ident.get("system"):
                continue
            if value == "" or ident.get("value") == value:
                return True
    return False


def _ref(value: Any) -> str:
    return str((value or {}).get("reference") or "")


def _name(resource: dict) -> str:
    parts = []
    for n in resource.get("name") or []:
        parts += [n.get("text") or "", (n.get("family") or "") + "".join(n.get("given") or [])]
    return " ".join(parts).lower()


class FakeFhirServer:
    """The far end: ``server.app`` is the ASGI app; state is kept in memory.

    Parameters:
        auth: ``none``, ``bearer`` (``token`` required) or ``smart``.
        token: the fixed bearer token.
        page_size: entries per page when the client gives no ``_count``.
    """

    def __init__(self, *, auth: str = "none", token: str = "", page_size: int = 50) -> None:
        self.auth, self.token, self.page_size = auth, token, page_size
        self.store: dict[str, dict[str, dict]] = defaultdict(dict)
        self.seq = itertools.count(1)
        self.seen: list[Seen] = []
        self.failures: list[dict] = []
        self.smart = SmartAuthorizationServer()
        self.app = Starlette(routes=[
            Route("/metadata", self.metadata, methods=["GET"]),
            Route("/.well-known/smart-configuration", self._smart_configuration, methods=["GET"]),
            Route("/auth/token", self.smart.token_endpoint, methods=["POST"]),
            Route("/{type}", self.type_level, methods=["GET", "POST"]),
            Route("/{type}/_search", self.search_by_post, methods=["POST"]),
            Route("/{type}/{id}", self.instance_level, methods=["GET", "PUT"]),
        ])

    # --- set-up and inspection ------------------------------------------------------------

    def register_client(self, client_id: str, public_key_pem: str, kid: str = "") -> None:
        """Register a backend client's public key (RSA for RS384, EC P-384 for ES384)."""
        self.smart.register_client(client_id, public_key_pem, kid)

    def fail_next(self, status: int = 422, diagnostics: str = "请求被拒绝", *, method: str = "", resource: str = "",
                  times: int = 1, code: str = "business-rule") -> None:
        """Answer the next ``times`` calls (of ``method`` on ``resource`` type, when given)
        with ``status`` and an OperationOutcome carrying ``diagnostics``."""
        self.failures.append({"status": status, "text": diagnostics, "method": method.upper(), "resource": resource,
                              "times": times, "code": code})

    def add(self, resource: dict) -> dict:
        """Store a resource as the hospital would have it (validated; id given when absent)."""
        kind = resource["resourceType"]
        self._validate(kind, resource)
        body = dict(resource)
        body.setdefault("id", str(next(self.seq)))
        body["meta"] = {"versionId": "1", "lastUpdated": datetime.now(UTC).isoformat(timespec="seconds")}
        self.store[kind][body["id"]] = body
        return body

    def all(self, kind: str) -> list[dict]:
        return list(self.store[kind].values())

    def get(self, reference: str) -> dict | None:
        kind, _, rid = reference.partition("/")
        return self.store[kind].get(rid)

    def set_status(self, reference: str, status: str) -> None:
        """Change a stored resource's status as the hospital's staff would (a check-in, a no-show)."""
        found = self.get(reference)
        assert found is not None, reference
        found["status"] = status
        self._bump(found)

    def requests(self, method: str = "", path: str = "") -> list[Seen]:
        return [r for r in self.seen if (not method or r.method == method) and (not path or r.path.startswith(path))]

    # --- handlers -------------------------------------------------------------------------

    async def metadata(self, request: Request) -> Response:
        rest: dict[str, Any] = {"mode": "server", "resource": [
            {"type": t, "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"},
                                        {"code": "update"}],
             "conditionalCreate": True,
             "searchParam": [{"name": p, "type": "token"} for p in sorted({"identifier", *PARAMS.get(t, set())})
                             if not p.startswith("_")]}
            for t in TYPES]}
        if self.auth == "smart":
            rest["security"] = {"service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                                   "restful-security-service", "code": "SMART-on-FHIR"}]}]}
        body = {"resourceType": "CapabilityStatement", "status": "active", "date": datetime.now(UTC).date().isoformat(),
                "kind": "instance", "software": {"name": "Fake hospital FHIR server", "version": "1.0"},
                "fhirVersion": "4.0.1", "format": ["json"], "rest": [rest]}
        model = get_fhir_model_class("CapabilityStatement").model_validate(body)
        return _fhir(model.model_dump(mode="json", exclude_none=True))

    async def _smart_configuration(self, request: Request) -> Response:
        if self.auth != "smart":
            return JSONResponse({"error": "not found"}, status_code=404)
        return await self.smart.configuration(request)

    async def type_level(self, request: Request) -> Response:
        return await self._answer(request, self._search if request.method == "GET" else self._create)

    async def search_by_post(self, request: Request) -> Response:
        async def handler(request: Request, kind: str) -> Response:
            if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                raise Problem(415, "invalid", "POST _search takes application/x-www-form-urlencoded")
            return await self._search(request, kind, list((await request.form()).multi_items()))

        return await self._answer(request, handler)

    async def instance_level(self, request: Request) -> Response:
        return await self._answer(request, self._read if request.method == "GET" else self._update)

    async def _answer(self, request: Request, handler) -> Response:
        self.seen.append(Seen(request.method, request.url.path, list(request.query_params.multi_items()),
                              {k.lower(): v for k, v in request.headers.items()}))
        kind = request.path_params["type"]
        try:
            self._check_auth(request)
            self._injected(request.method, kind)
            if kind not in TYPES:
                raise Problem(404, "not-supported", f"resource type {kind} is not supported")
            return await handler(request, kind)
        except Problem as p:
            return _fhir(outcome(p.code, p.text), p.status)

    def _check_auth(self, request: Request) -> None:
        if self.auth == "none":
            return
        given = request.headers.get("authorization", "")
        token = given[7:] if given.lower().startswith("bearer ") else ""
        ok = token == self.token if self.auth == "bearer" else self.smart.valid(token)
        if not token or not ok:
            raise Problem(401, "login", "missing or invalid access token")

    def _injected(self, method: str, kind: str) -> None:
        for f in self.failures:
            if f["times"] > 0 and f["method"] in ("", method) and f["resource"] in ("", kind):
                f["times"] -= 1
                raise Problem(f["status"], f["code"], f["text"])

    # --- REST -----------------------------------------------------------------------------

    def _validate(self, kind: str, body: Any) -> None:
        if not isinstance(body, dict) or body.get("resourceType") != kind:
            raise Problem(400, "invalid", f"the body is not a {kind}")
        try:
            get_fhir_model_class(kind).model_validate(body)
        except (ValidationError, ValueError, TypeError) as exc:
            raise Problem(400, "invalid", f"{kind} does not validate: {str(exc).splitlines()[0:2]}") from None
        if kind in STATUSES and body.get("status") not in STATUSES[kind]:
            raise Problem(400, "code-invalid", f"{kind}.status {body.get('status')!r} is not an R4 code")

    async def _body(self, request: Request, kind: str) -> dict:
        if not request.headers.get("content-type", "").startswith((FHIR_JSON, "application/json")):
            raise Problem(415, "invalid", "send application/fhir+json")
        try:
            body = await request.json()
        except ValueError:
            raise Problem(400, "structure", "the body is not JSON") from None
        self._validate(kind, body)
        return body

    async def _read(self, request: Request, kind: str) -> Response:
        found = self.store[kind].get(request.path_params["id"])
        if found is None:
            raise Problem(404, "not-found", f"{kind}/{request.path_params['id']} is not known")
        return _fhir(found, headers={"ETag": f'W/"{found["meta"]["versionId"]}"'})

    def _matches(self, kind: str, params: list[tuple[str, str]]) -> list[dict]:
        rows = list(self.store[kind].values())
        for name, value in params:
            base = name.split(":", 1)[0]
            if name in ("_count", "_offset", "_include"):
                continue
            if base not in {"_id", "identifier", *PARAMS.get(kind, set())}:
                raise Problem(400, "not-supported", f"search parameter {name} is not supported on {kind}")
            rows = [r for r in rows if self._param(kind, r, name, value)]
        field = DATES.get(kind)
        return sorted(rows, key=lambda r: (str(self._date(r, field) or "") if field else "", int(r["id"])
                                           if str(r["id"]).isdigit() else 0, str(r["id"])))

    @staticmethod
    def _date(r: dict, field: str | None) -> datetime | None:
        if not field:
            return None
        value: Any = r
        for part in field.split("."):
            value = (value or {}).get(part)
        return _instant(value) if value else None

    def _param(self, kind: str, r: dict, name: str, value: str) -> bool:
        alts = value.split(",")
        if name == "_id":
            return r["id"] in alts
        if name == "identifier":
            return _token_matches(r.get("identifier") or [], value)
        if name == "active":
            return str(r.get("active", True)).lower() == value.lower()
        if name in ("actor", "schedule", "appointment", "patient"):
            field = r.get(name)
            refs = {_ref(a) for a in (field if isinstance(field, list) else [field])} \
                if name != "patient" else {_ref(p.get("actor")) for p in r.get("participant") or []}
            return bool(refs & set(alts))
        if name in ("start", "date"):
            return _date_matches(self._date(r, DATES[kind]), value)
        if name == "status":
            return r.get("status") in alts
        if name == "name":
            return any(a.lower() in _name(r) for a in alts)
        return False

    async def _search(self, request: Request, kind: str, form: list | None = None) -> Response:
        params = [(k, str(v)) for k, v in (form if form is not None else request.query_params.multi_items())]
        rows = self._matches(kind, params)
        q = dict(params)
        count = max(1, min(int(q.get("_count") or self.page_size), 1000))
        offset = int(q.get("_offset") or 0)
        page = rows[offset:offset + count]
        base = str(request.base_url).rstrip("/")
        entries = [{"fullUrl": f"{base}/{kind}/{r['id']}", "resource": r, "search": {"mode": "match"}} for r in page]
        if kind == "Schedule" and q.get("_include") == "Schedule:actor":
            included = {_ref(a) for r in page for a in r.get("actor") or []}
            for ref in sorted(included):
                found = self.get(ref)
                if found is not None:
                    entries.append({"fullUrl": f"{base}/{ref}", "resource": found, "search": {"mode": "include"}})
        keep = [(k, v) for k, v in params if k != "_offset"]
        links = [{"relation": "self", "url": str(request.url)}]
        if offset + count < len(rows):
            links.append({"relation": "next", "url": f"{base}/{kind}?{urlencode(keep + [('_offset', offset + count)])}"})
        bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(rows), "link": links, "entry": entries}
        get_fhir_model_class("Bundle").model_validate(bundle)
        return _fhir(bundle)

    async def _create(self, request: Request, kind: str) -> Response:
        body = await self._body(request, kind)
        condition = request.headers.get("if-none-exist")
        if condition:
            found = self._matches(kind, parse_qsl(condition.split("?", 1)[-1], keep_blank_values=True))
            if len(found) > 1:
                raise Problem(412, "duplicate", f"If-None-Exist matches {len(found)} resources")
            if found:
                return _fhir(found[0], 200, {"Location": f"{kind}/{found[0]['id']}"})
        body.pop("id", None)
        if kind == "Appointment":
            self._take_slots(body)
        saved = self.add(body)
        for ref in [_ref(x) for x in saved.get("slot") or []] if kind == "Appointment" else []:
            self._settle(ref)
        return _fhir(saved, 201, {"Location": f"{str(request.base_url).rstrip('/')}/{kind}/{saved['id']}/_history/1",
                                  "ETag": 'W/"1"'})

    async def _update(self, request: Request, kind: str) -> Response:
        rid = request.path_params["id"]
        current = self.store[kind].get(rid)
        if current is None:
            raise Problem(404, "not-found", f"{kind}/{rid} is not known")
        body = await self._body(request, kind)
        if body.get("id") != rid:
            raise Problem(400, "invalid", "the body's id must be the id in the URL")
        match = request.headers.get("if-match")
        if match and match.strip('W/"') != current["meta"]["versionId"]:
            raise Problem(412, "conflict", f"version {match} is not the current one")
        before = [_ref(s) for s in current.get("slot") or []]
        body["meta"] = dict(current["meta"])
        self.store[kind][rid] = body
        self._bump(body)
        if kind == "Appointment":
            try:
                self._take_slots(body, own=rid)
            except Problem:
                self.store[kind][rid] = current
                raise
            for ref in {*before, *(_ref(x) for x in body.get("slot") or [])}:
                self._settle(ref)
        return _fhir(body, 200, {"ETag": f'W/"{body["meta"]["versionId"]}"'})

    @staticmethod
    def _bump(resource: dict) -> None:
        meta = resource.setdefault("meta", {"versionId": "0"})
        meta["versionId"] = str(int(meta.get("versionId") or 0) + 1)
        meta["lastUpdated"] = datetime.now(UTC).isoformat(timespec="seconds")

    # --- slots ----------------------------------------------------------------------------

    def _take_slots(self, appt: dict, own: str = "") -> None:
        """A booked Appointment needs a patient and a Slot that is neither unavailable nor full."""
        people = [p.get("actor") or {} for p in appt.get("participant") or []]
        if not any(a.get("type") == "Patient" or _ref(a).startswith("Patient/") for a in people):
            raise Problem(422, "business-rule", "Appointment 缺少患者（participant.actor Patient）")
        if appt.get("status") in ("cancelled", "entered-in-error", "noshow"):
            return
        for ref in [_ref(s) for s in appt.get("slot") or []]:
            slot = self.get(ref)
            if slot is None or not ref.startswith("Slot/"):
                raise Problem(422, "business-rule", f"{ref} 不存在")
            if slot["status"] == "busy-unavailable":
                raise Problem(422, "business-rule", f"{ref} 已停诊：{slot.get('comment') or ''}")
            if self._taken(ref, own) >= self._capacity(slot):
                raise Problem(422, "business-rule", f"{ref} 已约满")

    def _taken(self, slot_ref: str, own: str = "") -> int:
        return sum(1 for a in self.store["Appointment"].values()
                   if a["id"] != own and a.get("status") not in ("cancelled", "entered-in-error", "noshow")
                   and slot_ref in {_ref(s) for s in a.get("slot") or []})

    @staticmethod
    def _capacity(slot: dict) -> int:
        return next((int(e["valueInteger"]) for e in slot.get("extension") or [] if e.get("url") == CAPACITY_EXT), 1)

    def _settle(self, slot_ref: str) -> None:
        slot = self.get(slot_ref)
        if slot is None or slot["status"] in ("busy-unavailable", "entered-in-error"):
            return
        status = "busy" if self._taken(slot_ref) >= self._capacity(slot) else "free"
        if status != slot["status"]:
            slot["status"] = status
            self._bump(slot)
