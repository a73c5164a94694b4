"""What every FHIR endpoint shares: the city and its settings, the bearer token, the scope,
the client's rate, the audit entry of the call, and refusals as ``OperationOutcome``."""

from __future__ import annotations

import functools
import logging
import uuid

from starlette.responses import Response

from guahao.plugin_api import DomainError, channels, city_session, report_usage

from . import throttle
from .clients import Caller, caller_of
from .errors import FHIR_JSON, FhirError, error_response, from_domain

log = logging.getLogger("guahao.fhir_api")
NAME = "fhir_api"


class Call:
    """One request's city, settings, client and base URL (``…/fhir/<city>``)."""

    def __init__(self, request, caller: Caller | None):
        self.request = request
        self.rt = request.app.state.rt
        self.city = request.state.city
        self.caller = caller
        self.settings: dict = {}
        self.base = f"{str(request.base_url).rstrip('/')}/fhir/{self.city.slug}"
        self.target = ("", "")  # what the audit entry names

    async def load_settings(self) -> None:
        plugins = await self.rt.plugins.for_city(self.city)
        self.settings = dict(plugins.settings(NAME))


def fhir_json(resource, status: int = 200, headers: dict | None = None) -> Response:
    return Response(resource.model_dump_json(), status_code=status, media_type=FHIR_JSON, headers=headers)


def _bearer(request) -> str:
    kind, _, token = (request.headers.get("authorization") or "").partition(" ")
    return token.strip() if kind.lower() == "bearer" else ""


def endpoint(scope: str | None, action: str):
    """Wrap a handler ``(call) -> Response``: with ``scope`` a valid bearer token carrying it
    is required (401 / 403), the client's rate is counted (429), and the call is audited and
    metered (``api.third_party_calls``, dimension ``client``)."""

    def wrap(handler):
        @functools.wraps(handler)
        async def run(request) -> Response:
            call = Call(request, None)
            status = 500
            try:
                await call.load_settings()
                if scope is not None:
                    call.caller = await caller_of(call.rt, call.city, _bearer(request))
                    if call.caller is None:
                        raise FhirError(401, "login", "invalid_token",
                                        "缺少或无效的访问令牌。/ Missing or invalid bearer token.",
                                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
                    await throttle.admit(call.city, call.caller)
                    if scope not in call.caller.scopes:
                        raise FhirError(403, "forbidden", "insufficient_scope",
                                        f"该令牌没有权限范围 {scope}。/ The token lacks scope {scope}.",
                                        headers={"WWW-Authenticate": f'Bearer error="insufficient_scope" scope="{scope}"'})
                response = await handler(call)
            except FhirError as exc:
                response = error_response(exc)
            except DomainError as exc:
                response = error_response(from_domain(exc))
            status = response.status_code
            if call.caller is not None:
                await _audit(call, action, status)
            return response

        return run

    return wrap


async def _audit(call: Call, action: str, status: int) -> None:
    caller = call.caller
    assert caller is not None
    kind, ident = call.target
    try:
        async with city_session(call.rt, call.city) as s:
            channels.record_call(
                s, client_id=caller.client_id, client_name=caller.name, action=f"fhir.{action}",
                target_type=kind, target_id=ident, summary=f"{call.request.method} {call.request.url.path} → {status}",
                ip=call.request.client.host if call.request.client else "",
            )
            if status < 500:  # metered as the public API's calls are
                report_usage(s, meter="api.third_party_calls", quantity=1, source_id=f"fhir:{uuid.uuid4().hex}",
                             dimensions={"client": f"fhir_{caller.client_id}"})
    except Exception:  # the answer stands; a lost audit entry is logged
        log.exception("audit entry of a FHIR call failed")
