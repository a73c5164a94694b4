"""The OpenAPI 3.1 document of API v1, built from the operations and their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from .operations import BOOKING_REF, Operation
from .schemas import INT32_MAX, ErrorResponse

REF = "#/components/schemas/{model}"
CITY_PATTERN = "^[A-Za-z0-9_-]{1,40}$"
IDEMPOTENCY_PATTERN = "^[!-~]{1,255}$"
ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds until the next attempt", "schema": {"type": "string"}}},
}

# Examples for models defined outside the API layer (shown on the API page; the tests check
# that each still validates against its model's schema).
EXAMPLES = {
    "BookingView": {
        "id": "GHK5QX2M7RB4TZAW3C", "status": "confirmed", "period_id": 101, "session_id": 42,
        "hospital_id": 1, "hospital_name": "示例市第一人民医院", "department_id": 3, "department_name": "呼吸内科",
        "doctor_id": 7, "doctor_name": "王建国", "date": "2025-03-02", "half_day": "am", "start": "08:00",
        "end": "08:30", "starts_at": "2025-03-02T00:00:00Z", "channel": "app", "fee_fen": 5000,
        "payment_status": "none", "hold_expires_at": None, "created_at": "2025-02-16T23:30:02Z",
        "checked_in_at": None, "late": False, "cancel_reason": "",
        "campus": {"id": 2, "name": "南院区", "address": "南山区滨河大道 210 号"},
    },
    "WaitlistView": {
        "id": 12, "session_id": 42, "status": "waiting", "position": 1, "hospital_id": 1,
        "hospital_name": "示例市第一人民医院", "department_id": 3, "department_name": "呼吸内科", "doctor_id": 7,
        "doctor_name": "王建国", "date": "2025-03-02", "half_day": "am", "offered_booking_id": None,
        "offer_expires_at": None, "created_at": "2025-02-16T23:31:00Z",
    },
    "CreditStatus": {
        "status": "good", "suspended_until": None, "reason": "", "no_shows_in_window": 0,
        "window": "calendar_year:2025", "window_starts_at": "2024-12-31T16:00:00Z", "next_penalty_days": 30,
    },
}

DESCRIPTION = """\
城市预约挂号公共服务平台的公开接口（第 1 版），供 App、小程序和第三方使用。
The public JSON API of a city's hospital appointment platform.

* 城市 (city) is the first path segment: `/api/v1/{city}/…`.
* 认证 (auth): `POST /api/v1/{city}/auth/token` returns a bearer token valid for that city only;
  send it as `Authorization: Bearer <token>`.
* 错误 (errors): every refusal is a 4xx with `{"error": {"code", "message", "details"?}}`;
  clients switch on `code`, people read `message` (zh-CN).
* 金额 (money) in integer fen (分); instants in UTC (ISO 8601); `date`, `start`, `end` are local.
"""


def build_openapi(ops: list[Operation]) -> dict[str, Any]:
    pairs = [(ErrorResponse, "serialization")]
    for op in ops:
        pairs.append((op.response, "serialization"))
        if op.body is not None:
            pairs.append((op.body, "validation"))
    refs, defs = models_json_schema(list(dict.fromkeys(pairs)), ref_template=REF)
    schemas = defs.get("$defs", {})
    for name, example in EXAMPLES.items():
        if name in schemas:
            schemas[name]["examples"] = [example]
    paths: dict[str, dict] = {}
    for op in ops:
        paths.setdefault("/api/v1" + op.path, {})[op.method.lower()] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "guahao 预约挂号 API", "version": "1", "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _operation(op: Operation, refs: dict) -> dict:
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _path_parameters(op) + _query_parameters(op) + _header_parameters(op),
    }
    if op.description:
        out["description"] = op.description
    if op.auth:
        out["security"] = [{"bearerAuth": []}]
    if op.body is not None:
        out["requestBody"] = {
            "required": not op.body_optional,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    success: dict[str, Any] = {
        "description": "OK" if op.status == 200 else "Created",
        "content": {"application/json": {"schema": refs[(op.response, "serialization")]}},
    }
    if op.links:
        success["links"] = {
            link.name: {"operationId": link.operation_id, "parameters": dict(link.parameters),
                        "description": link.description}
            for link in op.links
        }
    if op.idempotency:
        success["headers"] = {
            "Idempotent-Replayed": {"description": "true when this is the stored first response",
                                    "schema": {"type": "string", "enum": ["true"]}}
        }
    responses: dict[str, Any] = {str(op.status): success}
    error_ref = refs[(ErrorResponse, "serialization")]
    for status, cases in _by_status(op).items():
        resp: dict[str, Any] = {
            "description": "; ".join(f"{c.code}: {c.description}" for c in cases),
            "content": {"application/json": {"schema": error_ref}},
            "x-error-codes": [c.code for c in cases],
        }
        if status in ERROR_HEADERS:
            resp["headers"] = ERROR_HEADERS[status]
        responses[str(status)] = resp
    out["responses"] = responses
    return out


def _by_status(op: Operation) -> dict[int, list]:
    grouped: dict[int, list] = {}
    for case in op.all_errors():
        grouped.setdefault(case.status, []).append(case)
    return dict(sorted(grouped.items()))


def _path_parameters(op: Operation) -> list[dict]:
    out = []
    for name in op.path_params:
        if name == "city":
            schema = {"type": "string", "pattern": CITY_PATTERN, "examples": ["demo"]}
            desc = "城市平台代码 city slug"
        elif name == "booking_id":
            schema = {"type": "string", "pattern": f"^{BOOKING_REF.pattern}$"}
            desc = "预约号 booking reference"
        else:
            schema = {"type": "integer", "minimum": 1, "maximum": INT32_MAX}
            desc = f"{name.removesuffix('_id')} id"
        out.append({"name": name, "in": "path", "required": True, "description": desc, "schema": schema})
    return out


def _query_parameters(op: Operation) -> list[dict]:
    if op.query is None:
        return []
    schema = op.query.model_json_schema(mode="validation", ref_template=REF)
    required = set(schema.get("required", []))
    grouped = getattr(op.query, "one_of_required", ())
    out = []
    group: dict[str, dict] = {}
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        desc = prop.pop("description", "")
        prop.pop("title", None)
        if "anyOf" in prop:  # optional: absent rather than null in a query string
            variants = [v for v in prop.pop("anyOf") if v.get("type") != "null"]
            if prop.get("default", 0) is None:
                prop.pop("default")
            prop = {**variants[0], **prop} if len(variants) == 1 else {"anyOf": variants, **prop}
        if name in grouped:
            group[name] = {**prop, "description": desc} if desc else prop
            continue
        out.append({"name": name, "in": "query", "required": name in required, "description": desc, "schema": prop})
    if group:
        out.insert(0, {
            "name": op.query.one_of_required_name,
            "in": "query",
            "required": True,
            "style": "form",
            "explode": True,
            "description": op.query.one_of_required_description,
            "schema": {
                "type": "object",
                "properties": group,
                "anyOf": [{"required": [name]} for name in group],
            },
        })
    return out


def _header_parameters(op: Operation) -> list[dict]:
    if not op.idempotency:
        return []
    return [{
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "重试时带上同一个键：同一请求只执行一次 (a retried request returns the first result)",
        "schema": {"type": "string", "pattern": IDEMPOTENCY_PATTERN},
    }]
