"""Refusals of the FHIR API as ``OperationOutcome`` answers with a 4xx status."""

from __future__ import annotations

from fhir.resources.R4B.operationoutcome import OperationOutcome
from starlette.responses import Response

FHIR_JSON = "application/fhir+json; charset=utf-8"
ERROR_SYSTEM = "https://guahao.org/fhir/CodeSystem/error"


class FhirError(Exception):
    """A refusal: HTTP ``status``, FHIR issue ``issue`` type, our stable ``code``, a zh-CN
    ``message`` (English after it), extra response ``headers``."""

    def __init__(self, status: int, issue: str, code: str, message: str, *, headers: dict | None = None,
                 severity: str = "error"):
        super().__init__(message)
        self.status, self.issue, self.code, self.message = status, issue, code, message
        self.headers = headers or {}
        self.severity = severity


def outcome(issue: str, code: str, message: str, severity: str = "error") -> OperationOutcome:
    return OperationOutcome(issue=[{
        "severity": severity, "code": issue, "diagnostics": message,
        "details": {"coding": [{"system": ERROR_SYSTEM, "code": code}], "text": message},
    }])


def error_response(exc: FhirError) -> Response:
    body = outcome(exc.issue, exc.code, exc.message, exc.severity).model_dump_json()
    return Response(body, status_code=exc.status, media_type=FHIR_JSON, headers=exc.headers)


# Our refusal status → FHIR issue type.
ISSUE_OF_STATUS = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 409: "conflict",
                   410: "not-found", 422: "invalid", 429: "throttled"}


def from_domain(exc) -> FhirError:
    """A platform refusal (``DomainError``: a booking rule, a cancel deadline…) as a FhirError."""
    status = int(getattr(exc, "status", 409) or 409)
    status = status if 400 <= status < 500 else 409
    headers = dict(getattr(exc, "headers", None) or {})
    return FhirError(status, ISSUE_OF_STATUS.get(status, "processing"), exc.code, exc.message, headers=headers)
