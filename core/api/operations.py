"""An API operation declared once: its route, its inputs and outputs, its error codes.

The same declaration makes the Starlette route (which parses and validates the inputs before
the handler runs) and the OpenAPI document, so the document cannot drift from the behaviour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from pydantic import BaseModel, ValidationError
from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from guahao.core import ratelimit
from guahao.core.errors import DomainError, NotFound, ValidationFailed
from guahao.core.members import sessions as member_sessions
from guahao.core.members.tokens import unauthorized, verify_claims
from guahao.core.ratelimit import client_ip
from guahao.tenants.context import CityContext, require_city
from guahao.tenants.rate_limits import scope_of

from .errors import field_errors
from .schemas import INT32_MAX

MAX_BODY_BYTES = 64 * 1024
BOOKING_REF = re.compile(r"[A-Za-z0-9_-]{1,24}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass(frozen=True)
class ErrorCase:
    """A refusal an operation may answer with (documented per status code)."""

    status: int
    code: str
    description: str


@dataclass(frozen=True)
class Link:
    """An OpenAPI link from an operation's success answer to a follow-up operation: what to call
    next and where its parameters come from (runtime expressions such as ``$response.body#/id``;
    ``header.Name`` for a header)."""

    name: str
    operation_id: str
    parameters: tuple[tuple[str, str], ...]
    description: str


@dataclass
class Call:
    """What a handler gets: the validated inputs of one request."""

    request: Request
    rt: Any
    city: CityContext
    member_id: int | None = None
    body: Any = None
    query: Any = None
    params: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    count_limits: Callable[[], Awaitable[None]] | None = None  # the operation's limits, when it counts them itself


@dataclass
class Reply:
    """A handler's answer when it is not simply the operation's success status."""

    payload: Any
    status: int
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Operation:
    """One method on one path of API v1.

    Parameters:
        method: HTTP method.
        path: path under ``/api/v1`` in Starlette syntax; ``{city}`` first, ``*_id`` integer
            ids except ``booking_id`` (a booking reference).
        handler: ``async (Call) -> payload | Reply``.
        operation_id, summary, tag, description: for the document.
        status: success status; response: its model.
        body: request body model; body_optional: an empty body means the model's defaults.
        query: query parameter model.
        auth: a member bearer token is required.
        idempotency: accepts an ``Idempotency-Key`` header.
        errors: refusals specific to this operation (the common ones are added).
        limits: rate-limit rules counted before the handler runs (``tenants.rate_limits``:
            ``*_ip`` per client address, ``*_member`` per the token's member).
        limits_in_handler: the handler counts ``limits`` itself, when it calls
            ``call.count_limits`` (booking: only once the period is known not to be sold out).
        links: follow-up operations of the success answer (OpenAPI links).
    """

    method: str
    path: str
    handler: Callable[[Call], Awaitable[Any]]
    operation_id: str
    summary: str
    tag: str
    response: type[BaseModel]
    status: int = 200
    description: str = ""
    body: type[BaseModel] | None = None
    body_optional: bool = False
    query: type[BaseModel] | None = None
    auth: bool = False
    idempotency: bool = False
    errors: tuple[ErrorCase, ...] = ()
    limits: tuple[str, ...] = ()
    limits_in_handler: bool = False
    links: tuple[Link, ...] = ()

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def all_errors(self) -> list[ErrorCase]:
        """This operation's refusals plus those every operation of its kind can give (no repeats)."""
        out = list(self.errors)
        if "city" in self.path_params:
            out.append(ErrorCase(404, "city_not_found", "没有这个城市平台 (unknown city)"))
        if any(p != "city" for p in self.path_params):
            out.append(ErrorCase(404, "not_found", "资源不存在，或属于他人 (unknown id, or not yours)"))
        if self.auth:
            out.append(ErrorCase(401, "unauthorized", "缺少或无效的访问令牌 (missing, expired, tampered or other city's token)"))
        if self.body is not None:
            out += [
                ErrorCase(413, "payload_too_large", "请求体超过 64 KiB"),
                ErrorCase(415, "unsupported_media_type", "请求体须为 application/json"),
                ErrorCase(422, "invalid_json", "请求体不是合法的 JSON"),
            ]
        if self.body is not None or self.query is not None:
            out.append(ErrorCase(422, "validation_error", "字段缺失、类型错误或超出范围 (details lists the fields)"))
        if self.idempotency:
            out.append(ErrorCase(422, "invalid_idempotency_key", "Idempotency-Key 须为 1–255 个可打印 ASCII 字符"))
        if self.limits:
            out.append(ErrorCase(429, "rate_limited", "操作过于频繁，请稍后再试 (Retry-After; details.retry_after, "
                                 "details.scope: " + ", ".join(scope_of(r) for r in self.limits) + ")"))
        unique: dict[tuple[int, str], ErrorCase] = {}
        for case in out:
            unique.setdefault((case.status, case.code), case)
        return list(unique.values())


def path_routes(ops: list[Operation]) -> list[Route]:
    """One route per path: each documented method goes to its operation, ``OPTIONS`` answers
    204 with ``Allow`` listing them, any other method 405 with the same ``Allow``."""
    by_path: dict[str, dict[str, Operation]] = {}
    for op in ops:
        by_path.setdefault(op.path, {})[op.method] = op
    return [_path_route(path, methods) for path, methods in by_path.items()]


def _path_route(path: str, methods: dict[str, Operation]) -> Route:
    endpoints = {method: _endpoint(op) for method, op in methods.items()}
    if "GET" in endpoints:
        endpoints["HEAD"] = endpoints["GET"]
    allow = ", ".join([*endpoints, "OPTIONS"])

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        return await endpoints[request.method](request)

    first = next(iter(methods.values()))
    endpoint.__name__ = first.operation_id
    return Route(path, endpoint, methods=[*endpoints, "OPTIONS"], name=first.operation_id)


def _endpoint(op: Operation):
    async def endpoint(request: Request) -> Response:
        call = Call(request=request, rt=request.app.state.rt, city=require_city())
        generation = 0
        if op.auth:
            call.member_id, generation = _bearer_member(request, call)
        for name in op.path_params:
            if name != "city":
                call.params[name] = _path_param(name, request.path_params[name])
        if op.query is not None:
            call.query = _validated(op.query.model_validate, dict(request.query_params), "query")
        if op.idempotency:
            call.idempotency_key = _idempotency_key(request)
        if op.body is not None:
            call.body = await _read_body(request, op)
        if op.auth:
            await _check_current(call, generation)
        if op.limits:
            ids = {"ip": client_ip(request), "member": call.member_id}
            checks = [(rule, ids.get(scope_of(rule))) for rule in op.limits]

            async def count_limits() -> None:
                await ratelimit.check(call.rt, call.city.id, checks)

            if op.limits_in_handler:
                call.count_limits = count_limits
            else:
                await count_limits()
        result = await op.handler(call)
        if isinstance(result, Reply):
            return json_response(result.payload, result.status, result.headers)
        return json_response(result, op.status)

    endpoint.__name__ = op.operation_id
    return endpoint


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(to_json(payload), status_code=status, headers=headers, media_type="application/json")


def _bearer_member(request: Request, call: Call) -> tuple[int, int]:
    """The member id and session generation of the request's bearer token (signature, expiry
    and city checked; no database read)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("missing", "请先登录：需要 Bearer 访问令牌")
    return verify_claims(call.rt.settings, token.strip(), city_id=call.city.id)


async def _check_current(call: Call, generation: int) -> None:
    """The token's member still exists and has not logged out or changed the password since
    the token was issued (one primary-key read, after the inputs were validated)."""
    async with call.rt.db.transaction() as s:
        current = await member_sessions.generation(s, call.member_id)
    if current is None:
        raise unauthorized("unknown_member", "会员不存在，请重新登录")
    if current != generation:
        raise unauthorized("revoked", "访问令牌已失效（已退出登录或修改了密码），请重新登录")


def _path_param(name: str, raw: str) -> int | str:
    if name == "booking_id":
        if not BOOKING_REF.fullmatch(raw):
            raise NotFound("预约")
        return raw
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= INT32_MAX:
        raise NotFound(name.removesuffix("_id"))
    return int(raw)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise ValidationFailed(
            "invalid_idempotency_key", "Idempotency-Key 须为 1–255 个可打印 ASCII 字符",
            details={"field": "Idempotency-Key"},
        )
    return key


def _validated(validate, value, where: str):
    try:
        return validate(value)
    except ValidationError as exc:
        errors = field_errors(exc)
        if any(e["code"] == "json_invalid" for e in errors):
            raise ValidationFailed("invalid_json", "请求体不是合法的 JSON (malformed JSON body)") from None
        message = "查询参数不正确" if where == "query" else "请求字段不正确"
        raise ValidationFailed("validation_error", message, details=errors) from None


async def _read_body(request: Request, op: Operation):
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise DomainError("payload_too_large", "请求体超过 64 KiB", status=413)
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise DomainError("payload_too_large", "请求体超过 64 KiB", status=413)
    if not raw.strip():
        if op.body_optional:
            return op.body()
        raise ValidationFailed(
            "validation_error", "需要 JSON 请求体",
            details=[{"field": "body", "code": "missing", "message": "Field required"}],
        )
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise DomainError("unsupported_media_type", "请求体须为 application/json", status=415)
    return _validated(op.body.model_validate_json, bytes(raw), "body")
