"""Why a notification could not be sent this time; both make the outbox try again later."""

from __future__ import annotations


class NoSender(RuntimeError):
    """The city has no enabled sender for the channel; retried until one is configured."""


class SendFailed(RuntimeError):
    """The sender failed in a way a later try may fix; retried with back-off by the outbox.

    Parameters:
        message: the failure, as recorded on the outbox row.
        retry_after: seconds the provider asked to wait before the next try (a hint).
    """

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after
