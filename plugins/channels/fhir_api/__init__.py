"""FHIR R4 scheduling API for third parties (R7.4), at ``/fhir/{city}/``.

IHE ITI Scheduling: ``metadata`` (CapabilityStatement), searches of Practitioner, Location,
HealthcareService, Schedule, Slot and the caller's own Appointments (:mod:`.search`), and
``Appointment/$find``, ``$hold``, ``$book`` (:mod:`.operations`). Third-party applications are
OAuth 2.0 clients the city registers (``guahao fhir client add``, :mod:`.clients`); they get
bearer tokens from ``POST token`` (:mod:`.token`), limited by scopes, a rate per minute and a
daily booking quota (:mod:`.throttle`); every call is in the audit log. The city's open slots
are published as SMART Scheduling Links (``$bulk-publish``, :mod:`.bulk`). Errors are
OperationOutcome. The guide is ``docs/api-fhir.md``.
"""

from __future__ import annotations

from starlette.routing import Route

from guahao.plugin_api import hookimpl

from . import bulk, operations, search
from .http import endpoint
from .meta import META  # noqa: F401  (the plugin's declaration)
from .models import FhirBooking, FhirClient, FhirHold, FhirToken
from .token import token

__all__ = ["FhirBooking", "FhirClient", "FhirHold", "FhirToken", "routes"]
PREFIX = "fhir"


def _search_route(kind: str):
    @endpoint(search.SEARCHES[kind], f"search.{kind}")
    async def run(call):
        return await search.search_type(call, kind)

    return run


def _read_route(kind: str):
    @endpoint(search.SEARCHES[kind], f"read.{kind}")
    async def run(call):
        return await search.read(call, kind, call.request.path_params["ident"])

    return run


@endpoint(None, "bulk")
async def _manifest(call):
    return await bulk.manifest(call)


@endpoint(None, "bulk")
async def _ndjson(call):
    return await bulk.ndjson(call, call.request.path_params["kind"])


@endpoint(None, "metadata")
async def _metadata(call):
    return await search.metadata(call)


def routes() -> list:
    get, post = ["GET"], ["POST"]
    found = [
        Route("/metadata", _metadata, methods=get),
        Route("/token", token, methods=post),
        Route("/$bulk-publish", _manifest, methods=get),
        Route("/$bulk-publish/{kind}.ndjson", _ndjson, methods=get),
        Route("/Appointment/$find", endpoint("system/Slot.read", "find")(operations.find), methods=post),
        Route("/Appointment/$hold", endpoint("system/Appointment.write", "hold")(operations.hold), methods=post),
        Route("/Appointment/$book", endpoint("system/Appointment.write", "book")(operations.book), methods=post),
    ]
    for kind in search.SEARCHES:
        found += [Route(f"/{kind}", _search_route(kind), methods=get),
                  Route(f"/{kind}/{{ident}}", _read_route(kind), methods=get)]
    return found


@hookimpl
def guahao_api_routes():
    return PREFIX, routes()
