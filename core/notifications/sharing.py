"""What senders share across workers: the runtime's Redis, made current while a sender runs."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

_redis: ContextVar[object | None] = ContextVar("guahao_sender_redis", default=None)


def shared_redis():
    """The runtime's Redis while a sender runs (``None`` when jobs run in-process).

    Senders keep what every worker should share there, e.g. a provider's access token.
    """
    return _redis.get()


@contextmanager
def sharing(redis):
    """Make ``redis`` the :func:`shared_redis` of the senders run inside the block."""
    token = _redis.set(redis)
    try:
        yield
    finally:
        _redis.reset(token)
