"""Check-in reports from the demo HIS: a function for in-process callers, and its HTTP route."""

from __future__ import annotations

import hmac
import json

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from guahao.plugin_api import CityContext, DomainError, Unauthorized, ValidationFailed, check_in

TOKEN_HEADER = "X-Demo-His-Token"
MAX_BODY = 4096
PLUGIN = "demo_his"


async def report_check_in(rt, city: CityContext, booking_id: str) -> dict:
    """The HIS saw the patient take their number (取号): check the booking in (R4.1).

    Returns the booking as the API shows it; raises the engine's ``DomainError``s
    (``not_found``, ``invalid_state``…).
    """
    return await check_in(rt, city, booking_id, source=f"his:{PLUGIN}")


def _expected_token(plugins) -> str:
    return str(plugins.secrets(PLUGIN).get("token") or plugins.settings(PLUGIN).get("token") or "")


async def checkin(request: Request) -> JSONResponse:
    rt = request.app.state.rt
    city = request.state.city
    plugins = await rt.plugins.for_city(city)
    expected = _expected_token(plugins)
    given = request.headers.get(TOKEN_HEADER, "")
    # Fail closed: a city that set no token accepts no reports.
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized(f"{TOKEN_HEADER} is missing or wrong", code="invalid_his_token")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise DomainError("payload_too_large", "request body too large", status=413)
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("validation_error", "body must be a JSON object") from None
    booking_id = body.get("booking_id") if isinstance(body, dict) else None
    if not isinstance(booking_id, str) or not 0 < len(booking_id) <= 24:
        raise ValidationFailed(
            "validation_error",
            "booking_id (string) is required",
            details=[{"field": "booking_id", "code": "missing", "message": "booking_id is required"}],
        )
    return JSONResponse({"booking": await report_check_in(rt, city, booking_id)})


def checkin_routes() -> list:
    return [Route("/checkin", checkin, methods=["POST"])]
