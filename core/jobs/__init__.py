"""Side effects and periodic work: the outbox relay, job runners (arq worker, or in-process in
embedded mode), and the handlers of each outbox topic.

- ``process_outbox_message(rt, outbox_id)``: run one message (retries with back-off on the row).
- ``relay_once(rt)``: hand due rows of every city to arq; ``drain_in_process(rt)``: run them here.
- ``worker_settings(settings)`` / ``run_worker(settings)``: the arq worker (``guahao worker``).
- ``in_process_runner(rt)``: the embedded runner used by the app's lifespan.

What a notification says and how it is sent is ``core.notifications``; refunds and voids of
payments are ``core.payments`` (the handlers here call them).
"""

from .embedded import in_process_runner
from .periodic import release_pools, sweep_no_shows
from .relay import drain_in_process, outbox_job_id, queue_name, relay_once
from .runner import MAX_ATTEMPTS, JobContext, backoff_seconds, process_outbox_message
from .worker import run_worker, worker_settings

__all__ = [
    "MAX_ATTEMPTS",
    "JobContext",
    "backoff_seconds",
    "drain_in_process",
    "in_process_runner",
    "outbox_job_id",
    "process_outbox_message",
    "queue_name",
    "relay_once",
    "release_pools",
    "run_worker",
    "sweep_no_shows",
    "worker_settings",
]
