"""Errors → HTTP, in one place: ``{"error": {"code", "message", "details"?}}``."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from guahao.core.errors import DomainError
from guahao.tenants.db import CityMoving

log = logging.getLogger("guahao.api")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def error_response(status: int, code: str, message: str, details=None, headers=None) -> JSONResponse:
    body = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _domain(request: Request, exc: DomainError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=getattr(exc, "headers", None))


async def _moving(request: Request, exc: CityMoving) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=exc.headers)


async def _validation(request: Request, exc: ValidationError) -> JSONResponse:
    return error_response(422, "validation_error", "the request does not match the expected fields", field_errors(exc))


async def _http(request: Request, exc: HTTPException) -> JSONResponse:
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", "something went wrong on our side; nothing was changed")


def field_errors(exc: ValidationError) -> list[dict]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "code": e["type"], "message": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def exception_handlers() -> dict:
    return {
        DomainError: _domain,
        CityMoving: _moving,
        ValidationError: _validation,
        HTTPException: _http,
        Exception: _unexpected,
    }
