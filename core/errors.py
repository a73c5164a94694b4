"""The one error type of the domain, mapped to HTTP in one place (``core.api.errors``).

Every error a user can cause carries a stable machine ``code`` and a human ``message``;
clients switch on the code, people read the message.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused request: stable ``code``, readable ``message``, HTTP ``status``.

    Parameters:
        code: machine code, e.g. ``slot_full``; never changes once published.
        message: a sentence for the person (zh-CN or English as the caller chose).
        status: HTTP status the API answers with (4xx).
        details: extra machine-readable facts (field errors, limits, dates).
    """

    status = 400

    def __init__(self, code: str, message: str, *, status: int | None = None, details: Any = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        if status is not None:
            self.status = status
        self.details = details

    def to_dict(self) -> dict:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class NotFound(DomainError):
    status = 404

    def __init__(self, what: str = "resource", code: str = "not_found"):
        super().__init__(code, f"{what} not found")


class Conflict(DomainError):
    """A booking rule refused the request (slot_full, duplicate_session, …)."""

    status = 409


class Unauthorized(DomainError):
    status = 401

    def __init__(self, message: str = "a valid bearer token is required", code: str = "unauthorized"):
        super().__init__(code, message)


class Forbidden(DomainError):
    status = 403


class ValidationFailed(DomainError):
    """Input that does not fit the contract; ``details`` lists field errors."""

    status = 422


class DeliveryRefused(Exception):
    """The far end of an outbox delivery refused it for good (a HIS's HL7 ``AR``, a provider's
    final "no"): retrying the same message unchanged cannot succeed. The outbox records it as
    ``failed`` with this text at once, instead of retrying, and staff see it on the deliveries
    page to fix and retry, or abandon."""
