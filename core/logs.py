"""Log lines of ``guahao serve`` and ``guahao worker``: one JSON object per line, or readable text.

Every line, the platform's own and those of libraries (uvicorn, arq, SQLAlchemy), carries
``time``, ``level``, ``logger`` and ``message``, plus what is known where it was written: the
``request_id``, ``route`` and ``method`` of the request (bound by
``core.request_context.ObserveRequests``), the ``city`` (the current city: a request's or an
outbox job's), the ``member_id`` of a signed-in API caller, and an outbox job's ``topic`` and
``outbox_id``. Context lives in context variables, so it follows the code into tasks it starts.

Before a line is written it goes through ``core.observability.scrub``: values under sensitive
keys are ``[Filtered]`` and mobile numbers, ID numbers, bearer tokens and ``password=…`` pairs
in any text are masked. No line carries a name, phone or ID number.

``GUAHAO_LOG_FORMAT`` chooses ``json`` or ``text`` (default: ``json`` beyond the embedded demo,
that is with PostgreSQL, Redis or ``GUAHAO_ENV=production``; ``text`` otherwise);
``GUAHAO_LOG_LEVEL`` the level (default ``INFO``).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, bound_contextvars, merge_contextvars

from .observability import scrub

__all__ = ["bind_contextvars", "bound_contextvars", "bind_member", "configure", "formatter", "log_format",
           "uvicorn_log_config"]

FORMATS = ("json", "text")


def _add_city(logger, method: str, event: dict) -> dict:
    from guahao.tenants.context import current_city

    city = current_city()
    if city is not None:
        event.setdefault("city", city.slug)
    return event


def _scrub(logger, method: str, event: dict) -> dict:
    return scrub(event)


def bind_member(member_id: int) -> None:
    """Name the signed-in member (by id only) in the lines the rest of this request writes."""
    bind_contextvars(member_id=member_id)


def log_format(settings) -> str:
    """The settings' ``log_format`` if it names a format, else ``json`` in production."""
    if settings.log_format in FORMATS:
        return settings.log_format
    return "json" if settings.production else "text"


def formatter(fmt: str = "json") -> logging.Formatter:
    """A ``logging.Formatter`` writing any record as one scrubbed JSON object (or text line)."""
    pre_chain: list[Any] = [
        merge_contextvars,
        _add_city,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    ]
    renderer = (structlog.processors.JSONRenderer(ensure_ascii=False) if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False, event_key="message", timestamp_key="time"))
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.EventRenamer("message"),
            _scrub,
            renderer,
        ],
    )


def json_formatter() -> logging.Formatter:
    """uvicorn's formatter factory (JSON); Python's warnings become log lines too."""
    logging.captureWarnings(True)
    return formatter("json")


def text_formatter() -> logging.Formatter:
    """uvicorn's formatter factory (text); Python's warnings become log lines too."""
    logging.captureWarnings(True)
    return formatter("text")


def configure(fmt: str = "json", level: str = "INFO") -> None:
    """Send every logger's records to standard error through :func:`formatter`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    logging.captureWarnings(True)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def uvicorn_log_config(fmt: str = "json", level: str = "INFO") -> dict:
    """uvicorn's ``log_config``: each worker process sends every record, uvicorn's own and its
    access lines included, through :func:`formatter`."""
    factory = "guahao.core.logs.json_formatter" if fmt == "json" else "guahao.core.logs.text_formatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"guahao": {"()": factory}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "guahao", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {name: {"handlers": [], "propagate": True, "level": level}
                    for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
